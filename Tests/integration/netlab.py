"""Network namespaces for integration tests: a rack host and a client host joined by a veth.

Addresses are in 198.18.0.0/15 only. Every namespace and process made here is removed by
`close()` (and by the fixtures' finalisers), by name and PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

RACKPLANE = os.environ.get("RACKPLANE", os.path.join(os.path.dirname(__file__), "../../.build/debug/rackplane"))


def run(*argv, check=True, timeout=60, **kw):
    return subprocess.run(argv, check=check, timeout=timeout, capture_output=True, text=True, **kw)


class Lab:
    """Namespace A (the rack, 198.18.0.1/24 on veth `ra`) and B (clients, veth `cb`).

    B may also hold 198.18.0.2/24 and the relay address 198.19.0.1/16, routed back from A, for
    perfdhcp in relay mode.
    """

    def __init__(self, tag: str, relay: bool = False):
        suffix = f"{os.getpid() % 100000}{tag}"
        self.a = f"rpa{suffix}"
        self.b = f"rpb{suffix}"
        self.processes: list[subprocess.Popen] = []
        run("ip", "netns", "add", self.a)
        run("ip", "netns", "add", self.b)
        run("ip", "link", "add", "ra" + suffix, "type", "veth", "peer", "name", "cb" + suffix)
        run("ip", "link", "set", "ra" + suffix, "netns", self.a, "name", "ra")
        run("ip", "link", "set", "cb" + suffix, "netns", self.b, "name", "cb")
        for ns in (self.a, self.b):
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", self.a, "addr", "add", "198.18.0.1/24", "dev", "ra")
        run("ip", "-n", self.a, "link", "set", "ra", "up")
        run("ip", "-n", self.b, "link", "set", "cb", "up")
        if relay:
            run("ip", "-n", self.b, "addr", "add", "198.18.0.2/24", "dev", "cb")
            run("ip", "-n", self.b, "addr", "add", "198.19.0.1/16", "dev", "cb")
            run("ip", "-n", self.a, "route", "add", "198.19.0.0/16", "via", "198.18.0.2")

    def exec_a(self, *argv, **kw):
        return run("ip", "netns", "exec", self.a, *argv, **kw)

    def exec_b(self, *argv, **kw):
        return run("ip", "netns", "exec", self.b, *argv, **kw)

    def spawn(self, ns: str, *argv, stdout=None, stderr=None) -> subprocess.Popen:
        process = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=stdout or subprocess.DEVNULL,
                                   stderr=stderr or subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def set_client_mac(self, mac: str):
        run("ip", "-n", self.b, "link", "set", "cb", "address", mac)

    def metrics(self) -> str:
        return self.exec_a("curl", "-s", "-m", "5", "http://127.0.0.1:5249/metrics").stdout

    def metric(self, name: str) -> float:
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        for ns in (self.a, self.b):
            pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            run("ip", "netns", "del", ns, check=False)


SITE = """\
domain: maas.test
upstream_dns: [198.18.0.254]
files: /srv/rackplane
subnets:
  - cidr: 198.18.0.0/24
    gateway: 198.18.0.1
    dns_servers: [198.18.0.1]
    next_server: 198.18.0.1
    lease_seconds: 600
    pools: [{start: 198.18.0.100, end: 198.18.0.250}]
    reserved: [{start: 198.18.0.1, end: 198.18.0.20}]
    unknown_clients: serve
  - cidr: 198.19.0.0/16
    gateway: 198.19.0.1
    lease_seconds: 600
    pools: [{start: 198.19.0.10, end: 198.19.255.250}]
boot:
  files: {bios: lpxelinux.0, uefi-x64: bootx64.efi, uefi-arm64: bootaa64.efi}
  http_boot_url: http://198.18.0.1:5248/bootx64.efi
  ipxe_script: http://198.18.0.1:5248/ipxe.cfg
  kernel: images/vmlinuz
  initrd: images/initrd.gz
  cmdline: console=ttyS0
machines:
  - {hostname: node01, mac: "52:54:00:00:00:01", ip: 198.18.0.21, arch: amd64, purpose: commission}
records:
  - {name: www, type: A, value: 198.18.0.10}
"""


class RackProcess:
    """`rackplane rack` in namespace A, with its own site file and state directory."""

    def __init__(self, lab: Lab, workdir: str, site: str = SITE, backend: str | None = None):
        self.lab = lab
        self.workdir = workdir
        self.site_path = os.path.join(workdir, "site.yaml")
        self.state = os.path.join(workdir, "state")
        self.log_path = os.path.join(workdir, "rack.log")
        self.backend = backend
        with open(self.site_path, "w") as f:
            f.write(site)
        self.process: subprocess.Popen | None = None

    def start(self):
        argv = [RACKPLANE, "rack", "--site", self.site_path, "--interface", "ra", "--state-dir", self.state]
        if self.backend:
            argv += ["--backend", self.backend]
        self.log = open(self.log_path, "a")
        self.process = self.lab.spawn(self.lab.a, *argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("rack exited: " + open(self.log_path).read())
            if "serving with" in open(self.log_path).read():
                return
            time.sleep(0.05)
        raise RuntimeError("rack did not start: " + open(self.log_path).read())

    def kill(self, sig=signal.SIGKILL):
        os.killpg(self.process.pid, sig)
        self.process.wait(timeout=10)

    def leases(self) -> list[dict]:
        out = run(RACKPLANE, "leases", "--state-dir", self.state, "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def log_text(self) -> str:
        return open(self.log_path).read()
