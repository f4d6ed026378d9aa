"""The region as an operator runs it: `rackplane region` with its embedded PostgreSQL, then
schemathesis (PyPI) generating requests from docs/openapi.yaml against it. No request may get a
5xx: bad input is always a 4xx with a message. Also: SIGTERM stops the region and its cluster.
Loopback only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

RACKPLANE = os.environ.get("RACKPLANE", ".build/debug/rackplane")
SPEC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "openapi.yaml")

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/usr/lib/postgresql"), reason="PostgreSQL (Debian's postgresql) is not installed"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Region:
    def __init__(self, state: str, name: str = "region", database_url: str | None = None):
        self.state = state
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(state, f"{name}.log"), "w+")
        extra = ["--database-url", database_url] if database_url else []
        self.process = subprocess.Popen(
            [RACKPLANE, "region", "--state-dir", os.path.join(state, name), "--listen", f"127.0.0.1:{self.port}", *extra],
            # No caching proxy (squid on :8000): these regions run side by side on one host.
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "RACKPLANE_REGION_PROXY": "off"},
        )
        name_dir = os.path.join(state, name)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError("region did not start:\n" + self.log.read())
            time.sleep(0.2)
        token_file = os.path.join(name_dir, "admin-token")
        # A region joining a database that already has users makes no token: borrow one.
        self.token = open(token_file).read().strip() if os.path.exists(token_file) else ""

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | list]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code


@pytest.fixture
def region():
    with tempfile.TemporaryDirectory(prefix="rackplane-region-") as state:
        os.chmod(state, 0o711)
        region = Region(state)
        try:
            yield region
        finally:
            if region.process.poll() is None:
                region.stop()


def postmaster_running(state_dir: str) -> bool:
    pid_file = os.path.join(state_dir, "postgres", "data", "postmaster.pid")
    return os.path.exists(pid_file)


def test_sigterm_stops_the_region_and_its_cluster(region):
    status, fabric = region.request("POST", "/api/v1/fabrics", {"name": "fabric-0"})
    assert status == 201 and fabric["name"] == "fabric-0"
    state = os.path.join(region.state, "region")
    assert postmaster_running(state)
    assert oct(os.stat(os.path.join(state, "admin-token")).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.join(state, "rack-secret")).st_mode & 0o777) == "0o600"
    assert region.stop() == 0
    assert not postmaster_running(state)
    secret = subprocess.run([RACKPLANE, "region", "secret", "--state-dir", state], capture_output=True, text=True, check=True)
    assert len(secret.stdout.strip()) == 64


def test_restart_keeps_the_model_and_prints_no_new_token(region):
    region.request("POST", "/api/v1/fabrics", {"name": "fabric-0"})
    token = region.token
    assert region.stop() == 0
    again = Region(region.state)
    try:
        assert again.token == token
        status, fabrics = again.request("GET", "/api/v1/fabrics")
        assert status == 200 and [f["name"] for f in fabrics] == ["fabric-0"]
        again.log.seek(0)
        assert "admin token" not in again.log.read()
    finally:
        assert again.stop() == 0


def test_schemathesis_finds_no_server_error(region):
    pytest.importorskip("schemathesis", reason="schemathesis (PyPI) is not installed: scripts/setup installs it")
    # Some ground to stand on, so that generated ids and references sometimes exist.
    status, rack = region.request("POST", "/api/v1/racks", {"name": "rack-1"})
    assert status == 201
    _, fabric = region.request("POST", "/api/v1/fabrics", {"name": "fabric-0"})
    _, vlan = region.request("POST", "/api/v1/vlans", {"fabric_id": fabric["id"], "vid": 1, "dhcp_on": True, "primary_rack_id": rack["id"]})
    _, subnet = region.request("POST", "/api/v1/subnets", {"vlan_id": vlan["id"], "cidr": "198.18.0.0/24"})
    region.request("POST", "/api/v1/machines", {"hostname": "node-1", "interfaces": [{"mac": "52:54:00:00:00:01", "subnet_id": subnet["id"]}]})
    run = subprocess.run(
        ["python3", "-m", "schemathesis.cli", "run", SPEC, "--url", region.base,
         "-H", f"Authorization: Bearer {region.token}", "--checks", "not_a_server_error",
         "--max-examples", "25", "--workers", "2", "--seed", "7", "--no-color"],
        capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_two_regions_share_one_database(region):
    """A second region on the first one's database (--database-url): one model, one secret."""
    url = f"host={os.path.join(region.state, 'region', 'postgres')} port=5432 user=postgres dbname=rackplane"
    second = Region(region.state, name="second", database_url=url)
    try:
        assert second.token == ""  # users exist already: no new admin token
        second.token = region.token
        status, _ = second.request("POST", "/api/v1/fabrics", {"name": "made-on-second"})
        assert status == 201
        status, fabrics = region.request("GET", "/api/v1/fabrics")
        assert [f["name"] for f in fabrics] == ["made-on-second"]
        with open(os.path.join(region.state, "region", "rack-secret")) as a, open(os.path.join(region.state, "second", "rack-secret")) as b:
            assert a.read() == b.read()
        # The embedded cluster belongs to the first region; the second leaves it alone.
        assert not os.path.exists(os.path.join(region.state, "second", "postgres"))
    finally:
        assert second.stop() == 0
    assert postmaster_running(os.path.join(region.state, "region"))
