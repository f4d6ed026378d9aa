"""A region for the operator-facing tests (web UI, CLI): `rackplane region` with its embedded
PostgreSQL on loopback, a state directory made with mkdtemp under /tmp (mode 0755: PostgreSQL,
run as its own user when the test is root, must traverse it), stopped by its PID. Also a model
with real-looking data, built through the REST API and the rack protocol as a region in service
would get it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

RACKPLANE = os.environ.get("RACKPLANE", ".build/debug/rackplane")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RegionProcess:
    """`argv` replaces the default --state-dir/--listen flags (a settings file, say), `prefix`
    runs the region through another program (setpriv), `port` is where it will listen."""

    def __init__(self, root: str | None = None, argv: list[str] | None = None, prefix: list[str] | None = None,
                 port: int | None = None, env: dict | None = None):
        self.root = root or tempfile.mkdtemp(prefix="rackplane-region-", dir="/tmp")
        os.chmod(self.root, 0o755)
        self.state = os.path.join(self.root, "region")
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.root, "region.log")
        self.log = open(self.log_path, "a+")
        arguments = argv if argv is not None else ["--state-dir", self.state, "--listen", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(
            [*(prefix or []), RACKPLANE, "region", *arguments],
            # The caching proxy (squid on :8000) only where a test asks for it: regions that run
            # side by side would otherwise compete for its port.
            stdout=self.log, stderr=subprocess.STDOUT, env={"RACKPLANE_REGION_PROXY": "off", **os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = open(self.log_path).read()
                self.stop()
                raise RuntimeError("region did not start:\n" + log)
            time.sleep(0.2)
        self.token = open(os.path.join(self.state, "admin-token")).read().strip()
        self.secret = open(os.path.join(self.state, "rack-secret")).read().strip()

    def api(self, method: str, path: str, body=None, authorization: str | None = None):
        """(status, decoded JSON body) of a request to /api/v1."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": authorization or f"Bearer {self.token}", "Content-Type": "application/json"}
        request = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def create(self, path: str, body: dict) -> dict:
        status, created = self.api("POST", path, body)
        assert status in (200, 201), f"POST {path} {body}: {status} {created}"
        return created

    def rack(self, path: str, body: dict) -> dict:
        """A rack-protocol request, with the rack secret."""
        status, reply = self.api("POST", path, body, authorization=f"Rack {self.secret}")
        assert status in (200, 204), f"POST {path}: {status} {reply}"
        return reply

    def stop(self, remove: bool = True) -> int | None:
        """SIGTERM (the region stops its cluster), then the state goes unless `remove` is False."""
        code = self.process.poll()
        if code is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
        self.log.close()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)
        return code


def populate(region: RegionProcess) -> dict:
    """Two racks, a fabric with two VLANs and subnets, ranges, a dozen machines in every state,
    a domain with records, boot resources and leases the racks reported. Returns ids by name."""
    rack_a = region.rack("/rack/enrol", {"name": "rack-a"})
    rack_b = region.rack("/rack/enrol", {"name": "rack-b"})
    fabric = region.create("/fabrics", {"name": "fabric-0", "description": "row 1"})
    vlan = region.create("/vlans", {"fabric_id": fabric["id"], "vid": 10, "name": "provisioning", "dhcp_on": True,
                                    "primary_rack_id": rack_a["id"], "secondary_rack_id": rack_b["id"]})
    vlan_storage = region.create("/vlans", {"fabric_id": fabric["id"], "vid": 20, "name": "storage", "dhcp_on": True,
                                            "primary_rack_id": rack_b["id"]})
    domain = region.create("/domains", {"name": "lab.example", "ttl": 300})
    subnet = region.create("/subnets", {"vlan_id": vlan["id"], "cidr": "198.18.0.0/24", "name": "pxe", "gateway": "198.18.0.1",
                                        "dns_servers": ["198.18.0.2"], "domain_id": domain["id"]})
    storage = region.create("/subnets", {"vlan_id": vlan_storage["id"], "cidr": "198.18.8.0/22", "name": "storage",
                                         "gateway": "198.18.8.1", "lease_seconds": 3600})
    region.create("/ranges", {"subnet_id": subnet["id"], "type": "reserved", "start_ip": "198.18.0.2", "end_ip": "198.18.0.29",
                              "comment": "switches and BMCs"})
    region.create("/ranges", {"subnet_id": subnet["id"], "type": "dynamic", "start_ip": "198.18.0.100", "end_ip": "198.18.0.199",
                              "comment": "PXE pool"})
    region.create("/ranges", {"subnet_id": storage["id"], "type": "dynamic", "start_ip": "198.18.9.0", "end_ip": "198.18.10.255"})

    machines = {}
    plan = [
        ("node-01", "amd64", "ipmi", "deployed"), ("node-02", "amd64", "ipmi", "deployed"),
        ("node-03", "amd64", "redfish", "ready"), ("node-04", "arm64", "redfish", "ready"),
        ("node-05", "arm64", "webhook", "commissioning"), ("node-06", "amd64", "ipmi", "deploying"),
        ("node-07", "amd64", "manual", "broken"), ("node-08", "amd64", "manual", "new"),
        ("gpu-01", "amd64", "redfish", "new"), ("gpu-02", "amd64", "redfish", "ready"),
    ]
    steps = {"new": [], "commissioning": ["commission"], "ready": ["commission", "complete"],
             "deploying": ["commission", "complete", "deploy"], "deployed": ["commission", "complete", "deploy", "complete"],
             "broken": ["mark-broken"]}
    for number, (hostname, arch, power, status) in enumerate(plan, start=1):
        interfaces = [{"name": "eno1", "mac": f"52:54:00:12:00:{number:02x}", "subnet_id": subnet["id"]}]
        if number <= 4:
            interfaces[0]["ip"] = f"198.18.0.{30 + number}"
        if number <= 2:
            interfaces.append({"name": "eno2", "mac": f"52:54:00:12:01:{number:02x}", "subnet_id": storage["id"],
                               "ip": f"198.18.8.{10 + number}"})
        parameters = {"address": f"198.18.0.{2 + number}", "username": "maas"} if power in ("ipmi", "redfish") else {}
        machine = region.create("/machines", {"hostname": hostname, "architecture": arch, "power_type": power,
                                              "power_parameters": parameters, "domain_id": domain["id"], "interfaces": interfaces})
        for action in steps[status]:
            region.create(f"/machines/{machine['id']}/{action}", {})
        machines[hostname] = machine["id"]

    for name, kind, value in [("ns1", "A", "198.18.0.2"), ("bmc", "CNAME", "ns1.lab.example."), ("@", "MX", "10 mail.lab.example."),
                              ("@", "TXT", "v=spf1 -all"), ("mirror", "A", "198.18.0.3"), ("_http._tcp.mirror", "SRV", "0 5 80 mirror.lab.example.")]:
        region.create("/records", {"domain_id": domain["id"], "name": name, "type": kind, "value": value})

    for name, arch, kernel in [("ubuntu/noble", "amd64", 14_932_104), ("ubuntu/noble", "arm64", 35_651_912), ("debian/bookworm", "amd64", 8_123_456)]:
        digest = lambda seed: __import__("hashlib").sha256(f"{name}/{arch}/{seed}".encode()).hexdigest()
        region.create("/boot-resources", {
            "name": name, "architecture": arch,
            "kernel_file": f"{name}/{arch}/vmlinuz", "kernel_size": kernel, "kernel_sha256": digest("kernel"),
            "initrd_file": f"{name}/{arch}/initrd.img", "initrd_size": kernel * 4 + 12345, "initrd_sha256": digest("initrd"),
            "rootfs_file": f"{name}/{arch}/squashfs", "rootfs_size": 512 * 1024 * 1024 + kernel, "rootfs_sha256": digest("rootfs"),
        })

    # Leases as rack-a reports them for the DHCP machines, and one for a stranger.
    expires = int(time.time()) + 600
    leases = [{"sequence": 100 + n, "address": f"198.18.0.{100 + n}", "mac": f"52:54:00:12:00:{n:02x}", "hostname": hostname,
               "state": "bound", "expires_at": expires} for n, hostname in [(5, "node-05"), (6, "node-06"), (7, "node-07"), (8, "node-08"), (9, "gpu-01"), (10, "gpu-02")]]
    leases.append({"sequence": 120, "address": "198.18.0.150", "mac": "52:54:00:99:00:01", "hostname": "unknown-laptop",
                   "state": "bound", "expires_at": expires})
    region.rack("/rack/leases", {"rack": rack_a["id"], "leases": leases})

    # node-02's two network boots as rack-a reports them: commissioning, then deployment.
    mac, address, now = "52:54:00:12:00:02", "198.18.0.32", int(time.time())
    def boot(start: int, image: str) -> list[dict]:
        step = lambda offset, stage, name, outcome, size, status=None: {
            "at": start + offset, "stage": stage, "address": address, "name": name, "outcome": outcome, "bytes": size,
            **({"mac": mac} if stage == "dhcp" else {}), **({"status": status} if status else {})}
        return [step(0, "dhcp", "lpxelinux.0", "ack", 0),
                step(1, "tftp", "lpxelinux.0", "ok", 42_844),
                step(1, "tftp", "ldlinux.c32", "ok", 122_308),
                step(2, "tftp", "pxelinux.cfg/01-52-54-00-12-00-02", "ok", 212),
                step(2, "http", f"/{image}/amd64/vmlinuz", "ok", 14_932_104, 200),
                step(4, "http", f"/{image}/amd64/initrd.img", "ok", 59_740_761, 200)]
    region.rack("/rack/boots", {"rack": rack_a["id"], "steps": boot(now - 5400, "ubuntu/noble") + boot(now - 600, "ubuntu/noble")})
    return {"machines": machines, "subnet": subnet["id"], "storage": storage["id"], "domain": domain["id"],
            "rack_a": rack_a["id"], "rack_b": rack_b["id"]}
