"""Power end to end: the built region and a connected rack (namespace A) drive a real QEMU
through its QMP socket, asked through the REST API.

The machine's parameters carry a password next to the socket (the qmp driver ignores it) so
that the test can look for it where it must never appear: API answers, events, and both logs.
A second machine names a socket no QEMU listens on: the failure comes back, named, as an event.
Only namespaces made here; QEMU has no network (-machine none).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from bootlab import qmp_status
from netlab import RACKPLANE, Lab
from test_region_rack import REGION, RegionInNamespace, wait_for

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/usr/lib/postgresql") or not shutil.which("qemu-system-x86_64"),
    reason="PostgreSQL and qemu-system-x86 are needed",
)

SECRET = "pw-never-shown-7d41"


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="rackplane-power-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def lab():
    lab = Lab("pw")
    yield lab
    lab.close()


@pytest.fixture
def qemu(workdir):
    path = os.path.join(workdir, "qmp.sock")
    process = subprocess.Popen(["qemu-system-x86_64", "-qmp", f"unix:{path},server,nowait", "-nographic", "-nodefaults",
                                "-machine", "none", "-S", "-display", "none"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(path), 30, "QEMU's QMP socket")
    yield path
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_api_powers_a_qemu_machine_through_its_rack(lab, workdir, qemu):
    region = RegionInNamespace(lab, os.path.join(workdir, "region"))
    region.start()
    rack_log_path = os.path.join(workdir, "rack.log")
    rack_log = open(rack_log_path, "a")
    rack = lab.spawn(lab.a, RACKPLANE, "rack", "--region", REGION, "--secret", region.secret(), "--name", "rack-p",
                     "--interface", "ra", "--state-dir", os.path.join(workdir, "rack"), stdout=rack_log, stderr=subprocess.STDOUT)
    try:
        racks = wait_for(lambda: region.api("GET", "/racks")[1], 30, "the rack to enrol")
        rack_id = racks[0]["id"]
        fabric = region.create("/fabrics", {"name": "fabric-0"})
        vlan = region.create("/vlans", {"fabric_id": fabric, "vid": 0, "dhcp_on": True, "primary_rack_id": rack_id})
        subnet = region.create("/subnets", {"vlan_id": vlan, "cidr": "198.18.0.0/24", "gateway": "198.18.0.1"})
        machine = region.create("/machines", {
            "hostname": "vm-1", "power_type": "qmp",
            "power_parameters": {"socket": qemu, "password": SECRET, "timeout": 5, "retries": 0},
            "interfaces": [{"mac": "52:54:00:00:00:31", "subnet_id": subnet}]})
        missing = region.create("/machines", {
            "hostname": "vm-2", "power_type": "qmp",
            "power_parameters": {"socket": os.path.join(workdir, "nobody.sock"), "timeout": 2, "retries": 0},
            "interfaces": [{"mac": "52:54:00:00:00:32", "subnet_id": subnet}]})

        # -S: QEMU waits powered "off" until told otherwise.
        status, reply = region.api("POST", f"/machines/{machine}/power/query?wait=60")
        assert status == 200, reply
        assert (reply["status"], reply["state"]) == ("done", "off")

        status, reply = region.api("POST", f"/machines/{machine}/power/on?boot=pxe&wait=60")
        assert (status, reply["status"], reply["state"]) == (200, "done", "on"), reply
        assert qmp_status(qemu) == "running"

        status, reply = region.api("POST", f"/machines/{machine}/power/cycle?wait=60")
        assert (status, reply["status"]) == (200, "done"), reply
        assert qmp_status(qemu) == "running"

        status, reply = region.api("POST", f"/machines/{machine}/power/off?wait=60")
        assert (status, reply["status"], reply["state"]) == (200, "done", "off"), reply
        assert qmp_status(qemu) != "running"

        status, power = region.api("GET", f"/machines/{machine}/power")
        assert status == 200 and power["state"] == "off"
        assert [r["action"] for r in power["requests"]] == ["off", "cycle", "on", "query"]

        # A BMC that is not there: a named failure, within the driver's timeout.
        status, reply = region.api("POST", f"/machines/{missing}/power/on?wait=60")
        assert (status, reply["status"], reply["error"]) == (200, "failed", "unreachable"), reply
        assert "no QEMU at" in reply["message"]

        # The same through the command-line client.
        def cli(*argv):
            return lab.exec_a("env", f"RACKPLANE_URL={REGION}", f"RACKPLANE_TOKEN={region.token}", f"XDG_CONFIG_HOME={workdir}",
                              RACKPLANE, "machines", "power", *argv, check=False)
        on = cli("on", "vm-1")
        assert on.returncode == 0, on.stderr
        assert "done" in on.stdout and "on" in on.stdout
        assert qmp_status(qemu) == "running"
        refused = cli("query", "vm-2")
        assert refused.returncode != 0
        assert "no QEMU at" in refused.stdout + refused.stderr
        assert cli("off", "vm-1").returncode == 0
        shown_by_cli = lab.exec_a("env", f"RACKPLANE_URL={REGION}", f"RACKPLANE_TOKEN={region.token}", f"XDG_CONFIG_HOME={workdir}",
                                  RACKPLANE, "machines", "show", "vm-1").stdout
        assert "power state" in shown_by_cli and "(redacted)" in shown_by_cli and SECRET not in shown_by_cli

        events = region.api("GET", "/events?limit=1000")[1]
        actions = [e["action"] for e in events if e["object_type"] == "machine"]
        for action in ("power-request", "power-query", "power-on", "power-cycle", "power-off", "power-unreachable"):
            assert action in actions, actions
        assert all(e["actor"] == "rack rack-p" for e in events if e["action"] in ("power-on", "power-unreachable"))

        # The password is nowhere it could be read.
        shown = region.api("GET", f"/machines/{machine}")[1]
        assert shown["power_parameters"]["password"] == "(redacted)"
        assert shown["power_parameters"]["socket"] == qemu
        assert shown["power_state"] == "off"
        for text in (json.dumps(region.api("GET", "/machines")[1]), json.dumps(events),
                     open(region.log_path).read(), open(rack_log_path).read()):
            assert SECRET not in text
        metrics = lab.metrics()
        assert 'rackplane_rack_power_calls_total{result="unreachable"} 2' in metrics, metrics
        assert 'rackplane_rack_power_calls_limit 8' in metrics
        key = os.path.join(workdir, "region", "power-key")
        assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    finally:
        os.killpg(rack.pid, signal.SIGTERM)
        rack.wait(timeout=30)
        region.stop()
