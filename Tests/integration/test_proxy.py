"""The region's caching proxy (squid, supervised by the region; docs/proxy.md), end to end.

Everything runs in a network namespace made here, whose loopback holds the addresses the test
needs: 198.18.77.1 (a machine in the managed subnet 198.18.77.0/24), 198.19.77.1 (a client in
no managed subnet) and 198.19.250.1 (the origin, a Python HTTP server standing in for a Debian
mirror). The test process itself enters the namespace (setns on its own thread), so the region it
starts, the origin's thread and curl are all inside; it leaves and removes the namespace at the end.
"""

from __future__ import annotations

import ctypes
import email.utils
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from regionlab import RACKPLANE, RegionProcess, free_port

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(not os.path.isdir("/usr/lib/postgresql"), reason="PostgreSQL (Debian's postgresql) is not installed"),
    pytest.mark.skipif(not os.path.exists("/usr/sbin/squid"), reason="squid is not installed (scripts/setup installs it)"),
]

MACHINE = "198.18.77.1"
OUTSIDER = "198.19.77.1"
ORIGIN = "198.19.250.1"
PACKAGE = "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb"
PACKAGE_BYTES = os.urandom(64 * 1024)

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def enter(namespace_file: str):
    """setns(2) for this thread only: processes and threads started from it inherit the namespace."""
    descriptor = os.open(namespace_file, os.O_RDONLY)
    try:
        if libc.setns(descriptor, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), namespace_file)
    finally:
        os.close(descriptor)


class Origin(BaseHTTPRequestHandler):
    """A mirror with one package; counts the requests that reach it."""

    requests: list[str] = []
    # Like a mirror's file: modified days ago, so any cache may keep it.
    last_modified = email.utils.formatdate(time.time() - 3 * 86400, usegmt=True)

    def do_GET(self):
        Origin.requests.append(self.path)
        if self.path != PACKAGE:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.debian.binary-package")
        self.send_header("Content-Length", str(len(PACKAGE_BYTES)))
        self.send_header("Last-Modified", self.last_modified)
        self.end_headers()
        self.wfile.write(PACKAGE_BYTES)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def lab():
    namespace = f"rpproxy{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    original = os.open("/proc/self/ns/net", os.O_RDONLY)
    region = origin = None
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        for address in (MACHINE, OUTSIDER, ORIGIN):
            subprocess.run(["ip", "-n", namespace, "addr", "add", f"{address}/32", "dev", "lo"], check=True)
        enter(f"/var/run/netns/{namespace}")
        origin = ThreadingHTTPServer((ORIGIN, 0), Origin)
        threading.Thread(target=origin.serve_forever, daemon=True).start()
        proxy_port = free_port()
        region = RegionProcess(argv=None, env={"RACKPLANE_REGION_PROXY": "on", "RACKPLANE_REGION_PROXY_PORT": str(proxy_port)})
        region.proxy_port = proxy_port
        region.origin = f"http://{ORIGIN}:{origin.server_address[1]}"
        wait_for(lambda: connects(proxy_port), "squid to listen")
        yield region
    finally:
        if region is not None:
            region.stop(remove=False)
        if origin is not None:
            origin.shutdown()
            origin.server_close()
        try:
            libc.setns(original, CLONE_NEWNET)
        finally:
            os.close(original)
            subprocess.run(["ip", "netns", "del", namespace], check=False)
            if region is not None:
                subprocess.run(["rm", "-rf", region.root], check=False)


def wait_for(condition, what: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def fetch(region, source: str, url: str) -> tuple[int, dict, bytes]:
    """GET `url` through the proxy from `source`: (status, lower-cased headers, body)."""
    result = subprocess.run(
        ["curl", "-s", "-m", "10", "--interface", source, "-x", f"http://{source}:{region.proxy_port}",
         "-D", "/dev/stderr", "-o", "-", url],
        capture_output=True, timeout=20)
    head = result.stderr.decode(errors="replace").split("\r\n")
    status = int(head[0].split()[1]) if head and head[0].startswith("HTTP/") else 0
    headers = {}
    for line in head[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers, result.stdout


def metric(region, name: str) -> float:
    with urllib.request.urlopen(region.base + "/metrics", timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def managed_subnet(region) -> dict:
    fabric = region.create("/fabrics", {"name": "fabric-proxy"})
    vlan = region.create("/vlans", {"fabric_id": fabric["id"], "vid": 77, "name": "proxy"})
    return region.create("/subnets", {"vlan_id": vlan["id"], "cidr": "198.18.77.0/24", "name": "machines"})


def wait_until_served(region, source: str):
    """After a reconfigure: squid answers `source` with something other than 403 (a 502/503
    for a port nothing listens on means the ACL let it through)."""
    closed = f"http://{ORIGIN}:{free_port()}/probe"
    wait_for(lambda: fetch(region, source, closed)[0] not in (0, 403), f"squid to serve {source}")


def test_second_fetch_is_a_cache_hit_and_outsiders_are_refused(lab):
    region = lab
    # No managed subnet yet: nobody is served.
    assert fetch(region, MACHINE, region.origin + PACKAGE)[0] == 403
    subnet = managed_subnet(region)
    wait_until_served(region, MACHINE)
    conf = open(os.path.join(region.state, "proxy", "squid.conf")).read()
    assert "acl managed src 198.18.77.0/24" in conf

    Origin.requests.clear()
    first = fetch(region, MACHINE, region.origin + PACKAGE)
    second = fetch(region, MACHINE, region.origin + PACKAGE)
    assert first[0] == 200 and first[2] == PACKAGE_BYTES
    assert first[1]["x-cache"].startswith("MISS")
    assert second[0] == 200 and second[2] == PACKAGE_BYTES
    assert second[1]["x-cache"].startswith("HIT"), second[1]
    assert Origin.requests == [PACKAGE], "the origin saw the package once"
    log = open(os.path.join(region.state, "proxy", "access.log")).read()
    # The last two: the refusal before the subnet existed comes first.
    served = [line.split()[3] for line in log.splitlines() if PACKAGE in line and f" {MACHINE} " in line][-2:]
    assert served[0] == "TCP_MISS/200", served
    assert re.fullmatch(r"TCP_(MEM_)?HIT/200", served[1]), served

    # Clients in no managed subnet, the region's own host included, are refused.
    for source in (OUTSIDER, "127.0.0.1"):
        status, headers, _ = fetch(region, source, region.origin + PACKAGE)
        assert status == 403, (source, status)
    assert Origin.requests == [PACKAGE]
    log = open(os.path.join(region.state, "proxy", "access.log")).read()
    assert re.search(rf" {re.escape(OUTSIDER)} TCP_DENIED/403 ", log)

    # A change that leaves the set of CIDRs alone does not reconfigure squid; a new CIDR does.
    # Notifications are handled in order, so once the second change has reconfigured squid the
    # first has been seen too: squid's log then holds one reconfigure per CIDR change, no more.
    assert metric(region, "rackplane_region_proxy_reconfigures_total") == 1
    status, _ = region.api("PUT", f"/subnets/{subnet['id']}", {"vlan_id": subnet["vlan_id"], "cidr": subnet["cidr"], "name": "renamed"})
    assert status == 200
    region.create("/subnets", {"vlan_id": subnet["vlan_id"], "cidr": "198.18.78.0/24", "name": "more-machines"})
    wait_for(lambda: metric(region, "rackplane_region_proxy_reconfigures_total") == 2, "the second reconfigure")
    conf = open(os.path.join(region.state, "proxy", "squid.conf")).read()
    assert re.findall(r"^acl managed src (\S+)$", conf, re.M) == ["198.18.77.0/24", "198.18.78.0/24"]
    cache_log = os.path.join(region.state, "proxy", "cache.log")
    wait_for(lambda: open(cache_log).read().count("Reconfiguring Squid Cache") == 2, "squid to reconfigure")
    assert metric(region, "rackplane_region_proxy_up") == 1


def test_machines_learn_the_proxy_from_the_api(lab):
    region = lab
    status, subnets = region.api("GET", "/subnets")
    subnet = next(s for s in subnets if s["cidr"] == "198.18.77.0/24")
    machine = region.create("/machines", {"hostname": "proxy-client", "interfaces": [
        {"name": "eno1", "mac": "52:54:00:77:00:01", "subnet_id": subnet["id"], "ip": MACHINE}]})
    status, settings = region.api("GET", f"/machines/{machine['id']}/proxy")
    assert status == 200
    url = f"http://127.0.0.1:{region.proxy_port}/"
    assert settings["enabled"] is True and settings["http_proxy"] == url
    assert f"  http_proxy: {url}\n" in settings["cloud_config"]
    assert settings["preseed"] == f"d-i mirror/http/proxy string {url}\n"
    status, reply = region.api("GET", "/machines/999999/proxy")
    assert status == 404 and "999999" in reply["error"]
    status, reply = region.api("GET", "/machines/not-a-number/proxy")
    assert status == 404


def test_deleting_the_subnet_withdraws_the_proxy_and_squid_stops_with_the_region(lab):
    region = lab
    status, machines = region.api("GET", "/machines")
    for machine in machines:
        assert region.api("DELETE", f"/machines/{machine['id']}")[0] == 204
    status, subnets = region.api("GET", "/subnets")
    for subnet in subnets:
        assert region.api("DELETE", f"/subnets/{subnet['id']}")[0] == 204
    wait_for(lambda: fetch(region, MACHINE, region.origin + PACKAGE)[0] == 403, "squid to refuse the former subnet")
    assert "acl managed" not in open(os.path.join(region.state, "proxy", "squid.conf")).read()

    squid = int(open(os.path.join(region.state, "proxy", "squid.pid")).read())
    assert open(f"/proc/{squid}/comm").read().strip() == "squid"
    argv = open(f"/proc/{squid}/cmdline").read().split("\0")
    service = argv[argv.index("-n") + 1]
    assert service == service_name(os.path.join(region.state, "proxy"))
    assert region.stop(remove=False) == 0
    assert not os.path.exists(f"/proc/{squid}"), "squid outlived the region"
    assert not connects(region.proxy_port)
    # A clean exit: squid removed its shared memory (named after the region's own service name).
    assert not [name for name in os.listdir("/dev/shm") if name.startswith(service + "-")]


NO_PROXY = {"enabled": False, "http_proxy": None, "cloud_config": None, "preseed": None}


def machine_in_new_subnet(region, cidr: str, mac: str) -> dict:
    """A fabric, a VLAN and `cidr` (a managed subnet), and a machine with one interface there."""
    fabric = region.create("/fabrics", {"name": "fabric-0"})
    vlan = region.create("/vlans", {"fabric_id": fabric["id"], "vid": 0})
    subnet = region.create("/subnets", {"vlan_id": vlan["id"], "cidr": cidr})
    return region.create("/machines", {"hostname": "node-1", "interfaces": [
        {"name": "eno1", "mac": mac, "subnet_id": subnet["id"]}]})


def test_without_squid_the_region_runs_and_says_so_once():
    region = RegionProcess(env={"RACKPLANE_REGION_PROXY": "on", "RACKPLANE_SQUID": "/nonexistent/squid"})
    try:
        machine = machine_in_new_subnet(region, "198.18.79.0/24", "52:54:00:79:00:01")
        status, settings = region.api("GET", f"/machines/{machine['id']}/proxy")
        assert status == 200 and settings == NO_PROXY
        assert metric(region, "rackplane_region_proxy_up") == 0
        log = open(region.log_path).read()
        assert log.count("/nonexistent/squid not found: running without the caching proxy") == 1, log
        assert not os.path.exists(os.path.join(region.state, "proxy"))
    finally:
        assert region.stop() == 0


def test_while_squid_keeps_dying_machines_are_told_there_is_no_proxy(tmp_path):
    # A squid that initialises its cache (-z) and then dies at once, as one with a broken
    # setting would: the region restarts it with a growing delay (1, 2, 4 s…).
    os.chmod(tmp_path, 0o755)
    squid = tmp_path / "squid"
    squid.write_text('#!/bin/sh\ncase " $* " in *" -z "*) exit 0 ;; esac\nexit 1\n')
    squid.chmod(0o755)
    region = RegionProcess(env={"RACKPLANE_REGION_PROXY": "on", "RACKPLANE_SQUID": str(squid),
                                "RACKPLANE_REGION_PROXY_PORT": str(free_port())})
    try:
        machine = machine_in_new_subnet(region, "198.18.80.0/24", "52:54:00:80:00:01")
        # From this line on squid is down for 4 s: the question below falls inside that gap.
        wait_for(lambda: "restarting in 4 s" in open(region.log_path).read(), "the region to restart squid three times", 60)
        status, settings = region.api("GET", f"/machines/{machine['id']}/proxy")
        assert status == 200 and settings == NO_PROXY
        assert metric(region, "rackplane_region_proxy_up") == 0
        assert metric(region, "rackplane_region_proxy_restarts_total") >= 3
    finally:
        assert region.stop() == 0


def service_name(proxy_directory: str) -> str:
    """SquidConfiguration.serviceName: FNV-1a of the directory, which names squid's /dev/shm segments."""
    value = 0x811C9DC5
    for byte in proxy_directory.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"rackplane{value:08x}"


def test_a_region_stopped_while_squid_starts_leaves_no_shared_memory():
    region = RegionProcess(env={"RACKPLANE_REGION_PROXY": "on", "RACKPLANE_REGION_PROXY_PORT": str(free_port())})
    service = service_name(os.path.join(region.state, "proxy"))
    try:
        wait_for(lambda: metric(region, "rackplane_region_proxy_up") == 1, "squid to be started")
    finally:
        assert region.stop(remove=False) == 0
    try:
        assert "squid running" in open(region.log_path).read()
        assert not [name for name in os.listdir("/dev/shm") if name.startswith(service + "-")]
    finally:
        subprocess.run(["rm", "-rf", region.root], check=False)


def test_proxy_off_runs_no_squid():
    region = RegionProcess(env={"RACKPLANE_REGION_PROXY": "off"})
    try:
        assert metric(region, "rackplane_region_proxy_up") == 0
        assert not os.path.exists(os.path.join(region.state, "proxy"))
        assert "squid" not in open(region.log_path).read()
    finally:
        assert region.stop() == 0


@pytest.mark.parametrize("arguments, settings, message", [
    (["--proxy", "maybe"], "", "--proxy must be on or off, not maybe"),
    (["--proxy-port", "70000"], "", "--proxy-port must be a port from 1 to 65535 (got 70000)"),
    ([], "proxy_port: 0\n", "proxy_port must be a port from 1 to 65535 (got 0)"),
    (["--proxy-cache-size", "8"], "", "--proxy-cache-size is in MiB and must be at least 16 (got 8)"),
    ([], "proxy: sometimes\n", "proxy must be true or false, not sometimes"),
    (["--proxy-url", "ftp://x/"], "", "--proxy-url must be an http:// URL"),
    (["--proxy-allow-localhost", "perhaps"], "", "--proxy-allow-localhost must be on or off, not perhaps"),
])
def test_bad_proxy_settings_stop_the_region_with_a_message(tmp_path, arguments, settings, message):
    config = tmp_path / "region.yaml"
    config.write_text(f"state_dir: {tmp_path}/state\n" + settings)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RACKPLANE_")}
    result = subprocess.run([RACKPLANE, "region", "--config", str(config), *arguments],
                            capture_output=True, text=True, timeout=30, env=environment)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "state").exists()
