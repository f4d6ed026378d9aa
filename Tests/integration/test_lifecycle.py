"""The machine lifecycle end to end, with no human step between the commands.

A region (embedded PostgreSQL) and a rack connected to it run in a namespace with bridge br0
(198.18.0.1/24, bootlab.BootNet). The region's boot resource is bootlab's ephemeral environment
(the Debian cloud kernel and a busybox initramfs that brings the network up, enlists or reports,
and powers off), uploaded through the API; the rack caches it. A QEMU guest (TCG, its iPXE ROM,
a QMP socket, `-no-shutdown` so that a powered-off guest stays in QEMU for qmp to power on) is
unknown to the region at first:

1. it network-boots, the rack renders the enlistment boot (`rackplane.enlist=`), its initramfs
   POSTs /api/v1/enlist and powers off: the machine appears as New;
2. the test gives it qmp power (the socket) through the API, then `rackplane machines commission`:
   the region mints a per-boot token and queues a power cycle, the rack drives QEMU over qmp, the
   guest boots the commissioning environment, reports with the token: Ready;
3. `rackplane machines deploy`: the same, to Deployed;
4. `rackplane machines release`: the rack powers it off through qmp: Ready. Its boot history
   holds every boot, the enlistment boot made as a stranger among them.

A second test runs a region alone with a small lifecycle timeout: a machine commissioned with no
one to report moves to Failed commissioning with the reason.

Only 198.18.0.0/15, only namespaces and processes made here, removed by name and PID.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import bootlab
from bootlab import BootNet, qmp_status
from netlab import RACKPLANE, run
from regionlab import RegionProcess, free_port

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and taps need root"),
    pytest.mark.skipif(not os.path.isdir("/usr/lib/postgresql"), reason="PostgreSQL (Debian's postgresql) is not installed"),
    pytest.mark.skipif(shutil.which(bootlab.QEMU) is None, reason="qemu-system-x86 is not installed (scripts/setup)"),
]

REGION = "http://198.18.0.1:5240"
MAC = "52:54:00:1c:00:01"
# Every wait is bounded; a TCG boot takes 4-20 s here, and each step is one boot.
STEP_SECONDS = float(os.environ.get("RACKPLANE_LIFECYCLE_STEP_SECONDS", "240"))


def wait_for(condition, timeout: float, what: str, diagnose=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{diagnose()}")


class RegionInBootNet:
    """`rackplane region` in the boot namespace on 198.18.0.1:5240 (so the rack, and the guests,
    reach it at the address the rack enrols with); the API is driven with curl from inside."""

    def __init__(self, net: BootNet, workdir: str, timeout: int):
        self.net = net
        self.state = os.path.join(workdir, "region")
        self.log_path = os.path.join(workdir, "region.log")
        self.process = net.spawn(RACKPLANE, "region", "--state-dir", self.state, "--listen", "198.18.0.1:5240",
                                 "--lifecycle-timeout", str(timeout), "--boot-kernel-options", "console=ttyS0",
                                 stdout=open(self.log_path, "a"))
        wait_for(lambda: self.process.poll() is not None or
                 net.exec("curl", "-s", "-m", "2", REGION + "/healthz", check=False).stdout.strip() == "ok",
                 90, "the region to start", self.log)
        assert self.process.poll() is None, self.log()
        self.token = open(os.path.join(self.state, "admin-token")).read().strip()
        self.secret = open(os.path.join(self.state, "rack-secret")).read().strip()

    def log(self) -> str:
        return open(self.log_path, errors="replace").read()[-6000:]

    def api(self, method: str, path: str, body=None, data_file: str | None = None, timeout: int = 30):
        argv = ["curl", "-s", "-m", str(timeout), "-X", method, "-H", f"Authorization: Bearer {self.token}",
                "-w", "\n%{http_code}", REGION + "/api/v1" + path]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        if data_file is not None:
            argv += ["--data-binary", "@" + data_file]
        out = self.net.exec(*argv, timeout=timeout + 10).stdout
        text, _, code = out.rpartition("\n")
        return int(code), json.loads(text) if text.strip() else None

    def create(self, path: str, body: dict) -> int:
        status, reply = self.api("POST", path, body)
        assert status == 201, f"{path}: {status} {reply}"
        return reply["id"]

    def cli(self, workdir: str, *argv):
        return self.net.exec("env", f"RACKPLANE_URL={REGION}", f"RACKPLANE_TOKEN={self.token}", f"XDG_CONFIG_HOME={workdir}",
                             RACKPLANE, *argv, check=False, timeout=120)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="rackplane-lifecycle-", dir="/tmp")
    os.chmod(path, 0o755)  # PostgreSQL, run as its own user, must traverse it
    yield path
    shutil.rmtree(path, ignore_errors=True)


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_an_unknown_machine_enlists_commissions_and_deploys_itself(workdir):
    files_root = bootlab.build()
    ephemeral = bootlab.build_ephemeral()
    net = BootNet("lc", workdir)
    region = rack = qemu = None
    console_path = os.path.join(workdir, "guest.console")
    qmp = os.path.join(workdir, "qmp.sock")

    def console() -> str:
        return open(console_path, "rb").read().decode("utf-8", "replace").replace("\r", "") if os.path.exists(console_path) else ""

    def markers() -> list[str]:
        return [l[l.index(bootlab.EPHEMERAL_MARKER):] for l in console().splitlines() if bootlab.EPHEMERAL_MARKER in l]

    def diagnose() -> str:
        events = region.api("GET", "/events?limit=40")[1] if region else []
        tail = "\n".join(console().splitlines()[-40:])
        rack_log = open(os.path.join(workdir, "rack.log"), errors="replace").read()[-4000:]
        return (f"--- events ---\n" + "\n".join(f"{e['actor']}: {e['action']} {e['summary']}" for e in events or [])
                + f"\n--- guest console ---\n{tail}\n--- rack log ---\n{rack_log}\n--- region log ---\n{region.log() if region else ''}")

    try:
        region = RegionInBootNet(net, workdir, timeout=int(STEP_SECONDS))
        # The rack's files root: the boot loaders an operator copies in; the image cache links
        # the region's boot files beside them.
        rack_state = os.path.join(workdir, "rack")
        os.makedirs(os.path.join(rack_state, "files"))
        for name in ("lpxelinux.0", "ldlinux.c32"):
            shutil.copyfile(os.path.join(files_root, name), os.path.join(rack_state, "files", name))
        rack = net.spawn(RACKPLANE, "rack", "--region", REGION, "--secret", region.secret, "--name", "rack-lc",
                         "--interface", "br0", "--state-dir", rack_state, stdout=open(os.path.join(workdir, "rack.log"), "a"))
        racks = wait_for(lambda: region.api("GET", "/racks")[1], 30, "the rack to enrol", diagnose)
        rack_id = racks[0]["id"]

        fabric = region.create("/fabrics", {"name": "fabric-0"})
        vlan = region.create("/vlans", {"fabric_id": fabric, "vid": 0, "dhcp_on": True, "primary_rack_id": rack_id})
        subnet = region.create("/subnets", {"vlan_id": vlan, "cidr": "198.18.0.0/24", "gateway": "198.18.0.1",
                                            "dns_servers": ["198.18.0.1"], "next_server": "198.18.0.1"})
        region.create("/ranges", {"subnet_id": subnet, "type": "dynamic", "start_ip": "198.18.0.100", "end_ip": "198.18.0.199"})
        kernel, initrd = os.path.join(ephemeral, "vmlinuz"), os.path.join(ephemeral, "initrd.gz")
        resource = region.create("/boot-resources", {
            "name": "rackplane/ephemeral", "architecture": "amd64",
            "kernel_file": "vmlinuz", "kernel_size": os.path.getsize(kernel), "kernel_sha256": sha256(kernel),
            "initrd_file": "initrd.gz", "initrd_size": os.path.getsize(initrd), "initrd_sha256": sha256(initrd)})
        for kind, path in (("kernel", kernel), ("initrd", initrd)):
            status, reply = region.api("PUT", f"/boot-resources/{resource}/files/{kind}", data_file=path, timeout=120)
            assert status in (200, 201), f"upload {kind}: {status} {reply}"
        cached = os.path.join(rack_state, "files", "rackplane/ephemeral/amd64")
        wait_for(lambda: all(os.path.exists(os.path.join(cached, n)) for n in ("vmlinuz", "initrd.gz")), 120,
                 "the rack to cache the ephemeral environment", diagnose)
        # The tables naming that kernel are in service at the rack before anything boots.
        generation = wait_for(lambda: region.api("GET", f"/racks/{rack_id}/tables")[1].get("generation"), 30, "tables", diagnose)
        # ("tables: generation N from the region" at start, "generation N in service" after.)
        wait_for(lambda: f"generation {generation} " in open(os.path.join(workdir, "rack.log"), errors="replace").read(),
                 60, f"generation {generation} at the rack", diagnose)

        # 1. An unknown machine boots: it enlists and powers off (QEMU stays, -no-shutdown).
        tap = net.add_tap()
        qemu = net.spawn(bootlab.QEMU, "-accel", "tcg", "-m", "256", "-smp", "1", "-nographic", "-boot", "n", "-no-shutdown",
                         "-qmp", f"unix:{qmp},server,nowait",
                         "-netdev", f"tap,ifname={tap},script=no,downscript=no,id=n0",
                         "-device", f"virtio-net-pci,netdev=n0,mac={MAC}", stdout=open(console_path, "wb"))

        def machine():
            status, found = region.api("GET", "/machines?q=" + MAC)
            return found[0] if status == 200 and found else None

        enlisted = wait_for(machine, STEP_SECONDS, "the guest to enlist", diagnose)
        assert enlisted["status"] == "new"
        assert enlisted["architecture"] == "amd64"
        assert enlisted["hostname"] == "node-5254001c0001"
        wait_for(lambda: any("enlisted" in m for m in markers()), 30, "the enlistment's answer on the console", diagnose)
        wait_for(lambda: qmp_status(qmp) == "shutdown", 60, "the guest to power off after enlisting", diagnose)
        start_line = next(m for m in markers() if " start " in m)
        assert f"rackplane.enlist={REGION}/api/v1/enlist" in start_line
        assert "rackplane.purpose=enlist" in start_line and "rackplane.token=" not in start_line
        # The rack that leased it serves it (its lease named the subnet).
        assert enlisted["interfaces"][0]["subnet_id"] == subnet, enlisted
        machine_id, hostname = enlisted["id"], enlisted["hostname"]

        # 2. Its BMC is the QMP socket; commission powers it through the rack.
        status, updated = region.api("PUT", f"/machines/{machine_id}", {
            "hostname": hostname, "architecture": "amd64", "power_type": "qmp",
            "power_parameters": {"socket": qmp, "timeout": 10, "retries": 1}})
        assert status == 200, updated
        commission = region.cli(workdir, "machines", "commission", hostname)
        assert commission.returncode == 0, commission.stdout + commission.stderr
        ready = wait_for(lambda: (m := machine()) and m["status"] != "commissioning" and m, STEP_SECONDS,
                         "commissioning to end", diagnose)
        assert ready["status"] == "ready", f"{ready}\n{diagnose()}"
        assert ready["facts"]["cpus"] == 1 and ready["facts"]["mac"] == MAC
        # The guest writes its line once the region has answered the report, which is after
        # the region made it ready: wait for the console, not only for the state.
        wait_for(lambda: [m for m in markers() if m.startswith(f"{bootlab.EPHEMERAL_MARKER} reported commission")], 30,
                 "the commissioning report on the console", diagnose)
        commission_start = [m for m in markers() if " start " in m and "rackplane.purpose=commission" in m][-1]
        assert f"rackplane.report={REGION}/api/v1/machines/{machine_id}/report" in commission_start
        assert f"rackplane.system_id={ready['system_id']}" in commission_start
        commission_token = next(w.split("=", 1)[1] for w in commission_start.split() if w.startswith("rackplane.token="))
        assert commission_token.startswith("rpb_")

        # It learnt the region's caching proxy with its boot token, and a request through it
        # was served (squid allows the managed subnet the guest's lease is in).
        facts = ready.get("facts") or {}
        assert facts.get("http_proxy") == "http://198.18.0.1:8000/" and facts.get("through_proxy") == "ok", f"{facts}\n{diagnose()}"

        # 3. Deploy: the same way, to Deployed.
        wait_for(lambda: qmp_status(qmp) == "shutdown", 60, "the guest to power off after commissioning", diagnose)
        deploy = region.cli(workdir, "machines", "deploy", hostname)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        deployed = wait_for(lambda: (m := machine()) and m["status"] != "deploying" and m, STEP_SECONDS,
                            "deployment to end", diagnose)
        assert deployed["status"] == "deployed", f"{deployed}\n{diagnose()}"
        deploy_start = [m for m in markers() if " start " in m and "rackplane.purpose=deploy" in m][-1]
        deploy_token = next(w.split("=", 1)[1] for w in deploy_start.split() if w.startswith("rackplane.token="))
        assert deploy_token != commission_token

        # A used token opens nothing: a second report of the same boot is refused.
        refused = net.exec("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/json",
                           "-H", f"Authorization: Bearer {deploy_token}", "--data", '{"status": "ok"}',
                           f"{REGION}/api/v1/machines/{machine_id}/report").stdout
        assert refused == "403"

        events = region.api("GET", "/events?limit=200")[1]
        mine = [(e["actor"], e["action"]) for e in events if e["object_type"] == "machine" and e["object_id"] == str(machine_id)]
        for expected in [("enlistment", "enlist"), ("rack rack-lc", "power-cycle"), (f"machine {hostname}", "report")]:
            assert expected in mine, mine
        assert [a for _, a in mine].count("report") == 2
        shown = region.cli(workdir, "machines", "show", hostname)
        assert "deployed" in shown.stdout, shown.stdout
        assert "power-cycle" in shown.stdout and "BOOT HISTORY" in shown.stdout, shown.stdout

        # 4. Release: the rack powers it off through qmp, and once it says so the machine is Ready.
        release = region.cli(workdir, "machines", "release", hostname)
        assert release.returncode == 0, release.stdout + release.stderr
        released = wait_for(lambda: (m := machine()) and m["status"] != "releasing" and m, 60, "the release to end", diagnose)
        assert released["status"] == "ready" and released["boot_purpose"] == "local", f"{released}\n{diagnose()}"
        events = region.api("GET", "/events?limit=200")[1]
        assert any(e["action"] == "released" and e["actor"] == "rack rack-lc" and e["object_id"] == str(machine_id) for e in events)

        # Its boot history: the boots the rack served it, the enlistment boot among them (made
        # while it was a stranger, claimed when it enlisted), each begun by an ACK naming a file.
        from datetime import datetime
        time.sleep(2.5)  # the rack reports boot steps every second
        steps = region.api("GET", f"/machines/{machine_id}/boots?limit=1000")[1]
        acks = sorted(datetime.fromisoformat(s["at"]) for s in steps if s["stage"] == "dhcp")
        enlisted_at = min(datetime.fromisoformat(e["at"]) for e in events
                          if e["object_type"] == "machine" and e["object_id"] == str(machine_id) and e["action"] == "enlist")
        assert len(acks) >= 3 and acks[0] <= enlisted_at, steps
        assert all(s["rack"] == "rack-lc" and s["mac"] in (None, MAC) for s in steps), steps
        # Each boot loaded the kernel whole (pxelinux fetches it over TFTP).
        kernels = [s for s in steps if s["name"].endswith("/vmlinuz") and s["outcome"] == "ok" and s["bytes"] > 1_000_000]
        assert len(kernels) >= 3, [(s["stage"], s["name"], s["outcome"], s["bytes"]) for s in reversed(steps)]
    finally:
        if qemu is not None and qemu.poll() is None:
            os.killpg(qemu.pid, signal.SIGKILL)
        if rack is not None and rack.poll() is None:
            os.killpg(rack.pid, signal.SIGTERM)
            try:
                rack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(rack.pid, signal.SIGKILL)
        if region is not None:
            region.stop()
        net.close()


def test_a_machine_that_never_reports_fails_with_the_reason(workdir):
    """No rack, no guest: commission starts the clock, and nothing reports."""
    port = free_port()
    region = RegionProcess(root=workdir, port=port, argv=["--state-dir", os.path.join(workdir, "region"),
                                                          "--listen", f"127.0.0.1:{port}", "--lifecycle-timeout", "2"])
    try:
        machine = region.create("/machines", {"hostname": "silent-1"})
        status, started = region.api("POST", f"/machines/{machine['id']}/commission")
        assert (status, started["status"]) == (200, "commissioning")

        def failed():
            shown = region.api("GET", f"/machines/{machine['id']}")[1]
            return shown if shown["status"] != "commissioning" else None

        shown = wait_for(failed, 60, "the lifecycle timeout")
        assert shown["status"] == "failed_commissioning"
        assert shown["status_message"] == "no report within 2 s"
        events = region.api("GET", "/events?limit=50")[1]
        timeouts = [e for e in events if e["action"] == "timeout"]
        assert len(timeouts) == 1 and timeouts[0]["actor"] == "region" and "no report within 2 s" in timeouts[0]["summary"]
        # Failed commissioning has its ways out: commission again, or mark broken.
        assert region.api("POST", f"/machines/{machine['id']}/deploy")[0] == 409
        assert region.api("POST", f"/machines/{machine['id']}/mark-broken")[1]["status"] == "broken"
        assert region.api("GET", "/machines?status=failed_commissioning")[1] == []
    finally:
        region.stop()
