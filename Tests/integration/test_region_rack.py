"""A region and a connected rack, end to end, in network namespaces.

The region (embedded PostgreSQL) and the rack run in namespace A; dhclient runs in B. A subnet,
a range and a machine are created through the REST API; the rack learns them from the region's
stream and a real DHCP client with the machine's MAC gets its reserved address. Then the region
stops: the rack keeps serving from its last tables, and a lease made meanwhile reaches the region
exactly once after it returns. Only 198.18.0.0/15, only namespaces made here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from netlab import RACKPLANE, Lab, run

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/usr/lib/postgresql"), reason="PostgreSQL (Debian's postgresql) is not installed"
)

REGION = "http://127.0.0.1:5240"


class RegionInNamespace:
    """`rackplane region` in namespace A, listening on A's loopback; the API is driven with curl
    from inside A."""

    def __init__(self, lab: Lab, state: str):
        self.lab = lab
        self.state = state
        self.log_path = os.path.join(os.path.dirname(state), "region.log")
        self.process: subprocess.Popen | None = None
        self.token = ""

    def start(self):
        log = open(self.log_path, "a")
        self.process = self.lab.spawn(self.lab.a, RACKPLANE, "region", "--state-dir", self.state,
                                      "--listen", "127.0.0.1:5240", stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("region exited:\n" + open(self.log_path).read())
            ok = self.lab.exec_a("curl", "-s", "-m", "2", REGION + "/healthz", check=False).stdout
            if ok.strip() == "ok":
                self.token = open(os.path.join(self.state, "admin-token")).read().strip()
                return
            time.sleep(0.3)
        raise RuntimeError("region did not start:\n" + open(self.log_path).read())

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)

    def secret(self) -> str:
        return run(RACKPLANE, "region", "secret", "--state-dir", self.state).stdout.strip()

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        argv = ["curl", "-s", "-m", "10", "-X", method, "-H", f"Authorization: Bearer {self.token}",
                "-w", "\n%{http_code}", REGION + "/api/v1" + path]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        out = self.lab.exec_a(*argv).stdout
        text, _, code = out.rpartition("\n")
        return int(code), json.loads(text) if text.strip() else None

    def create(self, path: str, body: dict) -> int:
        status, reply = self.api("POST", path, body)
        assert status == 201, f"{path}: {status} {reply}"
        return reply["id"]


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def dhclient(lab: Lab, workdir: str, mac: str, name: str, hostname: str | None = None) -> str:
    lab.set_client_mac(mac)
    leases = os.path.join(workdir, f"{name}.leases")
    conf = os.path.join(workdir, f"{name}.conf")
    with open(conf, "w") as f:
        f.write(f'send host-name "{hostname}";\n' if hostname else "")
    result = lab.exec_b("timeout", "30", "dhclient", "-1", "-sf", "/bin/true", "-cf", conf, "-lf", leases,
                        "-pf", os.path.join(workdir, f"{name}.pid"), "cb", check=False)
    text = open(leases).read() if os.path.exists(leases) else ""
    assert "fixed-address" in text, result.stderr
    # Give the address back to the namespace: the next client starts clean.
    lab.exec_b("ip", "addr", "flush", "dev", "cb", check=False)
    return text.split("fixed-address ")[1].split(";")[0]


def connected_rack(lab: Lab, tmp_path, name: str):
    """A region and a rack connected to it (no DNS) in namespace A, the rack primary on the
    VLAN of 198.18.0.0/24: (region, rack process, rack id, subnet id)."""
    region = RegionInNamespace(lab, str(tmp_path / "region"))
    region.start()
    rack_log = open(tmp_path / "rack.log", "a")
    rack = lab.spawn(lab.a, RACKPLANE, "rack", "--region", REGION, "--secret", region.secret(), "--name", name,
                     "--interface", "ra", "--state-dir", str(tmp_path / "rack"), "--dns-port", "0",
                     stdout=rack_log, stderr=subprocess.STDOUT)
    rack_id = wait_for(lambda: region.api("GET", "/racks")[1], 30, "the rack to enrol")[0]["id"]
    fabric = region.create("/fabrics", {"name": "fabric-0"})
    vlan = region.create("/vlans", {"fabric_id": fabric, "vid": 0, "dhcp_on": True, "primary_rack_id": rack_id})
    subnet = region.create("/subnets", {"vlan_id": vlan, "cidr": "198.18.0.0/24", "gateway": "198.18.0.1"})
    return region, rack, rack_id, subnet


@pytest.fixture
def workdir():
    # The embedded cluster runs as the postgres user, which must be able to reach the state
    # directory: pytest's own temporary directories are private to root.
    import shutil
    import tempfile
    path = tempfile.mkdtemp(prefix="rackplane-region-rack-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def lab():
    lab = Lab("rg")
    yield lab
    lab.close()


def test_region_drives_a_connected_rack_and_gets_every_lease_once(lab, workdir):
    from pathlib import Path
    tmp_path = Path(workdir)
    region = RegionInNamespace(lab, str(tmp_path / "region"))
    region.start()
    rack_log = open(tmp_path / "rack.log", "a")
    rack = lab.spawn(lab.a, RACKPLANE, "rack", "--region", REGION, "--secret", region.secret(), "--name", "rack-a",
                     "--interface", "ra", "--state-dir", str(tmp_path / "rack"), stdout=rack_log, stderr=subprocess.STDOUT)

    # The rack enrols itself; the operator builds its network through the API.
    racks = wait_for(lambda: region.api("GET", "/racks")[1], 30, "the rack to enrol")
    rack_id = racks[0]["id"]
    assert racks[0]["name"] == "rack-a"
    fabric = region.create("/fabrics", {"name": "fabric-0"})
    vlan = region.create("/vlans", {"fabric_id": fabric, "vid": 0, "dhcp_on": True, "primary_rack_id": rack_id})
    subnet = region.create("/subnets", {"vlan_id": vlan, "cidr": "198.18.0.0/24", "gateway": "198.18.0.1",
                                        "dns_servers": ["198.18.0.1"]})
    region.create("/ranges", {"subnet_id": subnet, "type": "dynamic", "start_ip": "198.18.0.100", "end_ip": "198.18.0.200"})
    region.create("/machines", {"hostname": "node-1", "interfaces": [{"mac": "52:54:00:00:00:01", "subnet_id": subnet,
                                                                      "ip": "198.18.0.21"}]})
    wait_for(lambda: "serving with" in open(tmp_path / "rack.log").read(), 60, "the rack to serve the region's tables")

    # The rack's DNS answers for the machine and for a record made through the API.
    lab.exec_b("ip", "addr", "add", "198.18.0.2/24", "dev", "cb")
    domains = region.api("GET", "/domains")[1]
    default = next(d for d in domains if d["name"] == "maas")
    region.create("/records", {"domain_id": default["id"], "name": "www", "type": "A", "value": "198.18.0.10"})
    def answer(name, rtype="A"):
        return lab.exec_b("dig", "@198.18.0.1", "+short", "+time=1", "+tries=1", name, rtype, check=False).stdout.strip()
    wait_for(lambda: answer("www.maas") == "198.18.0.10", 30, "the API's record in the rack's zone")
    assert answer("node-1.maas") == "198.18.0.21"
    assert answer("21.0.18.198.in-addr.arpa", "PTR") == "node-1.maas."
    lab.exec_b("ip", "addr", "flush", "dev", "cb")

    # A real DHCP client with the machine's MAC gets the reserved address.
    assert dhclient(lab, str(tmp_path), "52:54:00:00:00:01", "reserved") == "198.18.0.21"
    wait_for(lambda: any(l["ip"] == "198.18.0.21" for l in region.api("GET", "/leases")[1]), 30, "the lease to reach the region")

    # The region goes away: the rack keeps booting machines from its last tables.
    region.stop()
    pool_address = dhclient(lab, str(tmp_path), "52:54:00:00:10:07", "pool", hostname="laptop7")
    assert pool_address.startswith("198.18.0.") and 100 <= int(pool_address.rsplit(".", 1)[1]) <= 200
    assert rack.poll() is None

    # It returns: the lease made meanwhile arrives, once.
    region.start()
    leases = wait_for(lambda: [l for l in region.api("GET", "/leases")[1] if l["ip"] == pool_address], 60,
                      "the lease made while the region was down")
    assert len(leases) == 1 and leases[0]["mac"] == "52:54:00:00:10:07"
    time.sleep(3)  # more report rounds: still once
    everything = region.api("GET", "/leases")[1]
    assert sorted(l["ip"] for l in everything) == sorted(["198.18.0.21", pool_address])
    assert rack.poll() is None
    # The region compiled the reported lease's host name into the rack's zones.
    lab.exec_b("ip", "addr", "add", "198.18.0.2/24", "dev", "cb", check=False)
    wait_for(lambda: lab.exec_b("dig", "@198.18.0.1", "+short", "+time=1", "+tries=1", "laptop7.maas", check=False).stdout.strip()
             == pool_address, 30, "the lease's name in the zones")
    log = open(tmp_path / "rack.log").read()
    assert "serving the last good tables" not in log or "generation" in log
    # What the rack saw while the region was away reached the event log once it returned.
    def rack_events():
        return [e for e in region.api("GET", "/events?limit=1000")[1] if e["actor"] == "rack rack-a"]
    actions = [e["action"] for e in wait_for(
        lambda: (lambda events: events if any(e["action"] == "region-back" for e in events) else None)(rack_events()),
        30, "the rack's events")]
    assert "start" in actions and "tables" in actions and "region-lost" in actions
    assert actions.count("region-lost") == 1 and actions.count("start") == 1
    region.stop()


def test_uploaded_boot_files_reach_the_racks_cache_and_are_served(lab, workdir):
    """An operator uploads a kernel and an initrd to the region; the connected rack downloads
    them into its cache (SHA-256 checked) and serves them over HTTP and TFTP at
    name/architecture/file. A corrupt upload is refused and never reaches the rack; deleting
    the boot resource takes its files off the rack."""
    import hashlib
    from pathlib import Path
    tmp_path = Path(workdir)
    region, rack, _, _ = connected_rack(lab, tmp_path, "rack-img")
    wait_for(lambda: "serving with" in open(tmp_path / "rack.log").read(), 60, "the rack to serve the region's tables")

    # Generated in the test: 9 MiB of kernel (three database chunks) and a small initrd.
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(os.urandom(9 * 1024 * 1024 + 123))
    initrd = tmp_path / "initrd"
    initrd.write_bytes(os.urandom(70_000))
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
    resource = region.create("/boot-resources", {
        "name": "ubuntu/noble", "architecture": "amd64",
        "kernel_file": "boot-kernel", "kernel_size": kernel.stat().st_size, "kernel_sha256": digest(kernel),
        "initrd_file": "boot-initrd", "initrd_size": initrd.stat().st_size, "initrd_sha256": digest(initrd)})

    def upload(kind: str, path: Path) -> tuple[int, str]:
        out = lab.exec_a("curl", "-s", "-m", "60", "-X", "PUT", "-H", f"Authorization: Bearer {region.token}",
                         "-H", "Content-Type: application/octet-stream", "--data-binary", f"@{path}",
                         "-w", "\n%{http_code}", f"{REGION}/api/v1/boot-resources/{resource}/files/{kind}").stdout
        text, _, code = out.rpartition("\n")
        return int(code), text

    # A corrupt kernel (one byte flipped) is refused with the reason.
    corrupt = tmp_path / "corrupt"
    data = bytearray(kernel.read_bytes())
    data[4096] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    status, text = upload("kernel", corrupt)
    assert status == 422 and "SHA-256" in json.loads(text)["error"]

    assert upload("kernel", kernel)[0] == 200
    assert upload("initrd", initrd)[0] == 200

    # The rack fetches both; its HTTP and TFTP serve the very bytes.
    served = tmp_path / "rack" / "files" / "ubuntu" / "noble" / "amd64"
    wait_for(lambda: (served / "boot-kernel").exists() and (served / "boot-initrd").exists(), 60,
             "the rack to cache the boot files")
    lab.exec_b("ip", "addr", "add", "198.18.0.2/24", "dev", "cb")
    fetched = tmp_path / "fetched-kernel"
    lab.exec_b("curl", "-s", "-f", "-m", "30", "-o", str(fetched), "http://198.18.0.1:5248/ubuntu/noble/amd64/boot-kernel")
    assert fetched.read_bytes() == kernel.read_bytes()
    tftp_copy = tmp_path / "tftp-initrd"
    lab.exec_b("curl", "-s", "-f", "-m", "30", "-o", str(tftp_copy), "tftp://198.18.0.1/ubuntu/noble/amd64/boot-initrd")
    assert tftp_copy.read_bytes() == initrd.read_bytes()
    metrics = lab.exec_a("curl", "-s", "http://127.0.0.1:5249/metrics").stdout
    assert 'rackplane_rack_image_files{state="ready"} 2' in metrics
    assert 'rackplane_rack_image_downloads_total{result="failed"} 0' in metrics
    log = open(tmp_path / "rack.log").read()
    # Progress on the way (where the lines fall depends on how the bytes arrive), then the end.
    import re
    assert re.search(r"boot-kernel [1-9][0-9]? % \(\d+/9437307 bytes\)", log), log
    assert "boot-kernel 100 % (9437307 bytes), SHA-256 verified, ready" in log, log
    # The rack told the region what its cache holds (the web UI's racks page shows it).
    rack_row = wait_for(lambda: next((r for r in region.api("GET", "/racks")[1] if r.get("image_files_ready") == 2), None),
                        30, "the rack's image report")
    assert rack_row["image_files_wanted"] == 2
    assert rack_row["image_bytes_ready"] == kernel.stat().st_size + initrd.stat().st_size
    def image_events():
        found = [e for e in region.api("GET", "/events?limit=1000")[1] if e["actor"] == "rack rack-img" and e["action"] == "image-ready"]
        return found if len(found) >= 2 else None
    ready = wait_for(image_events, 30, "the rack's image events")
    assert sorted(e["summary"].split(":")[0] for e in ready) == ["ubuntu/noble/amd64/boot-initrd", "ubuntu/noble/amd64/boot-kernel"]

    # Deleted at the region: gone from the rack's files root and its cache.
    status, _ = region.api("DELETE", f"/boot-resources/{resource}")
    assert status == 204
    # One sync round removes the served links, then the cache entries nobody lists.
    wait_for(lambda: not (served / "boot-kernel").exists() and not (served / "boot-initrd").exists()
             and os.listdir(tmp_path / "rack" / "images") == [], 30, "the rack to drop the deleted files")
    assert rack.poll() is None
    region.stop()


def test_a_machines_boot_steps_reach_its_page_and_the_cli(lab, workdir):
    """A PXE client's DHCP ACK, its TFTP fetches and its image HTTP requests, as the connected
    rack served them, reach the region filed under the machine — by MAC for the ACK, by the
    machine's address for the rest — and show on its web page and in `rackplane machines show`."""
    import html
    from pathlib import Path
    tmp_path = Path(workdir)
    region, rack, rack_id, subnet = connected_rack(lab, tmp_path, "rack-boots")
    mac = "52:54:00:00:00:31"
    machine = region.create("/machines", {"hostname": "booter", "interfaces": [{"mac": mac, "subnet_id": subnet,
                                                                                "ip": "198.18.0.31"}]})
    wait_for(lambda: "serving with" in open(tmp_path / "rack.log").read(), 60, "the rack to serve the region's tables")

    # DHCP as PXE firmware asks (vendor class PXEClient, BIOS): the ACK names lpxelinux.0.
    lab.set_client_mac(mac)
    conf = tmp_path / "pxe.conf"
    conf.write_text('send vendor-class-identifier "PXEClient:Arch:00000:UNDI:002001";\n')
    leases = tmp_path / "pxe.leases"
    lab.exec_b("timeout", "30", "dhclient", "-1", "-sf", "/bin/true", "-cf", str(conf), "-lf", str(leases),
               "-pf", str(tmp_path / "pxe.pid"), "cb", check=False)
    assert 'filename "lpxelinux.0"' in leases.read_text(), leases.read_text()

    # Then what pxelinux fetches: the loader (missing: no boot files were uploaded), its own config (rendered), a kernel over HTTP.
    lab.exec_b("ip", "addr", "add", "198.18.0.31/24", "dev", "cb")
    missing = lab.exec_b("curl", "-s", "-m", "10", "-o", "/dev/null", "tftp://198.18.0.1/lpxelinux.0", check=False)
    assert missing.returncode != 0
    config = lab.exec_b("curl", "-s", "-f", "-m", "10", f"tftp://198.18.0.1/pxelinux.cfg/01-{mac.replace(':', '-')}").stdout
    assert config.strip()
    rendered = lab.exec_b("curl", "-s", "-f", "-m", "10", "http://198.18.0.1:5248/ipxe.cfg").stdout
    assert rendered.startswith("#!ipxe")
    status = lab.exec_b("curl", "-s", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                        "http://198.18.0.1:5248/images/no-such-kernel", check=False).stdout
    assert status == "404"

    def steps():
        found = region.api("GET", f"/machines/{machine}/boots")[1]
        return found if len(found) >= 5 else None
    history = list(reversed(wait_for(steps, 30, "the boot steps at the region")))
    assert [s["stage"] for s in history] == ["dhcp", "tftp", "tftp", "http", "http"], history
    ack, loader, pxeconfig, script, kernel = history
    assert ack["mac"] == mac and ack["address"] == "198.18.0.31" and ack["name"] == "lpxelinux.0" and ack["outcome"] == "ack"
    assert loader["name"] == "lpxelinux.0" and loader["outcome"] == "file not found" and loader["bytes"] == 0
    assert pxeconfig["outcome"] == "ok" and pxeconfig["bytes"] == len(config.encode())
    assert script["name"] == "/ipxe.cfg" and script["status"] == 200 and script["bytes"] == len(rendered.encode())
    assert kernel["name"] == "/images/no-such-kernel" and kernel["status"] == 404
    assert all(s["rack"] == "rack-boots" and s["address"] == "198.18.0.31" for s in history)
    metrics = lab.exec_a("curl", "-s", "http://127.0.0.1:5249/metrics").stdout
    assert "rackplane_rack_boot_steps_total 5" in metrics and "rackplane_rack_boot_steps_overwritten_total 0" in metrics

    # Bad reports are refused with the reason, and store nothing.
    secret = region.secret()
    def report(body: dict) -> tuple[str, str]:
        out = lab.exec_a("curl", "-s", "-m", "10", "-X", "POST", "-H", f"Authorization: Rack {secret}",
                         "-H", "Content-Type: application/json", "--data", json.dumps(body), "-w", "\n%{http_code}",
                         REGION + "/api/v1/rack/boots").stdout
        text, _, code = out.rpartition("\n")
        return code, text
    good = {"at": 1, "stage": "tftp", "address": "198.18.0.31", "name": "x", "outcome": "ok", "bytes": 1}
    code, text = report({"rack": rack_id, "steps": [good, dict(good, stage="nfs")]})
    assert code == "422" and "steps[1]" in text and "stage" in text
    code, text = report({"rack": rack_id, "steps": [dict(good, address="not-an-address")]})
    assert code == "422" and "IPv4" in text
    assert len(region.api("GET", f"/machines/{machine}/boots")[1]) == 5

    # The machine's page groups the steps into the boot the ACK began.
    jar = tmp_path / "cookies"
    lab.exec_a("curl", "-s", "-m", "10", "-c", str(jar), "-o", "/dev/null", "--data-urlencode", f"token={region.token}",
               REGION + "/ui/login")
    page = html.unescape(lab.exec_a("curl", "-s", "-f", "-m", "10", "-b", str(jar), f"{REGION}/ui/machines/{machine}").stdout)
    assert "Boot history" in page and "as 198.18.0.31 from rack rack-boots" in page and "5 steps" in page
    assert f"pxelinux.cfg/01-{mac.replace(':', '-')}" in page and "no-such-kernel" in page and "file not found" in page
    assert page.count('class="failed"') == 2  # the missing loader and kernel; the rest was served

    # An unknown machine boots (a pool address, the enlistment config); when an interface with
    # its MAC is made, that boot becomes its history.
    def generation():
        return region.api("GET", f"/racks/{rack_id}")[1].get("tables_generation") or 0
    before = generation()
    region.create("/ranges", {"subnet_id": subnet, "type": "dynamic", "start_ip": "198.18.0.100", "end_ip": "198.18.0.200"})
    after = wait_for(lambda: generation() if generation() > before else None, 30, "the range's generation")
    wait_for(lambda: f"rackplane_tables_generation {after}" in lab.exec_a("curl", "-s", "http://127.0.0.1:5249/metrics").stdout,
             30, "the rack to serve the range")
    # The rack told the region it serves it (lifecycle power cycles wait for that).
    wait_for(lambda: region.api("GET", f"/racks/{rack_id}")[1].get("serving_generation") == after, 10, "the rack's serving report")
    lab.exec_b("ip", "addr", "flush", "dev", "cb")
    stranger = "52:54:00:00:00:99"
    lab.set_client_mac(stranger)
    leases = tmp_path / "stranger.leases"
    lab.exec_b("timeout", "30", "dhclient", "-1", "-sf", "/bin/true", "-cf", str(conf), "-lf", str(leases),
               "-pf", str(tmp_path / "stranger.pid"), "cb", check=False)
    pool_address = leases.read_text().split("fixed-address ")[1].split(";")[0]
    lab.exec_b("ip", "addr", "add", f"{pool_address}/24", "dev", "cb")
    # No config by its MAC (nobody knows it); then iPXE's script over HTTP, whatever the answer.
    assert lab.exec_b("curl", "-s", "-m", "10", "-o", "/dev/null", f"tftp://198.18.0.1/pxelinux.cfg/01-{stranger.replace(':', '-')}",
                      check=False).returncode != 0
    lab.exec_b("curl", "-s", "-m", "10", "-o", "/dev/null", "http://198.18.0.1:5248/ipxe.cfg", check=False)
    wait_for(lambda: "rackplane_rack_boot_steps_total 8" in lab.exec_a("curl", "-s", "http://127.0.0.1:5249/metrics").stdout,
             10, "the stranger's steps at the rack")
    time.sleep(2.5)  # two report rounds: at the region, unclaimed
    enlisted = region.create("/machines", {"hostname": "stranger", "interfaces": [{"mac": stranger}]})
    claimed = region.api("GET", f"/machines/{enlisted}/boots")[1]
    assert [(s["stage"], s["address"], s["name"]) for s in reversed(claimed)] == [
        ("dhcp", pool_address, "lpxelinux.0"), ("tftp", pool_address, f"pxelinux.cfg/01-{stranger.replace(':', '-')}"),
        ("http", pool_address, "/ipxe.cfg")], claimed
    assert len(region.api("GET", f"/machines/{machine}/boots")[1]) == 5

    # And `rackplane machines show`.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACKPLANE_") or k == "RACKPLANE"}
    shown = lab.exec_a("env", f"RACKPLANE_URL={REGION}", f"RACKPLANE_TOKEN={region.token}", f"HOME={tmp_path}",
                       RACKPLANE, "machines", "show", "booter", env=env).stdout
    assert "BOOT HISTORY" in shown and "lpxelinux.0" in shown and "/ipxe.cfg" in shown and "rack-boots" in shown
    assert "EVENTS" in shown and "create" in shown
    assert rack.poll() is None
    region.stop()
