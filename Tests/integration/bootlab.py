"""A real network boot lab: boot artifacts, a bridged namespace with taps, and QEMU guests.

Artifacts (built once, cached under /var/tmp/rackplane-bootlab/<key>/, never committed; the key
names the Debian package versions they came from):

    root/lpxelinux.0          Debian `pxelinux`
    root/ldlinux.c32          Debian `syslinux-common` (lpxelinux.0 loads it first)
    root/images/vmlinuz       Debian's cloud kernel (linux-image-*-cloud-amd64)
    root/images/initrd.gz     busybox-static; /init prints MARKER and the kernel command line
                              on the console, then powers off

The packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x`: nothing is
installed (busybox-static conflicts with the `busybox` package the DHCP tests use).

The network: namespace A holds bridge br0 (198.18.0.1/24, where the rack or the reference peer
listens), one tap per guest (created inside the namespace), and a tiny IPv6 router-advertisement
sender so iPXE does not wait ~13 s for one. Guests run as
`ip netns exec A qemu-system-x86_64 -accel tcg ... -nographic -no-reboot` with the serial console
in a file. Everything made here is removed by `close()`, by name and PID.

`build_ephemeral()` adds the lifecycle's ephemeral environment (same kernel; an initramfs that
brings the network up with the kernel package's virtio modules and enlists or reports to the
region, see EPHEMERAL_INIT), cached under its own key.

`python3 bootlab.py build` builds (or finds) the artifacts and prints the files root;
`python3 bootlab.py ephemeral` the ephemeral environment's directory.
`python3 bootlab.py ra IFACE` is the RA sender (run inside the namespace).
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from netlab import RACKPLANE, run  # noqa: E402

CACHE = os.environ.get("RACKPLANE_BOOTLAB_CACHE", "/var/tmp/rackplane-bootlab")
MARKER = "RACKPLANE-BOOT-OK"
RECIPE = 1  # bump when the initramfs or layout below changes
QEMU = "qemu-system-x86_64"

INIT = f"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "{MARKER} $(/bin/busybox cat /proc/cmdline)" > /dev/console
/bin/busybox sync
/bin/busybox poweroff -f
"""


# ---------------------------------------------------------------------------------------------
# Artifacts

def kernel_package() -> str:
    """The cloud kernel the running Debian release's meta-package points at."""
    out = run("apt-cache", "depends", "linux-image-cloud-amd64").stdout
    match = re.search(r"Depends:\s*(linux-image-\S+-cloud-amd64)\b", out)
    if not match:
        raise RuntimeError("cannot resolve linux-image-cloud-amd64: " + out)
    return match.group(1)


def package_set() -> dict[str, str]:
    packages = [kernel_package(), "busybox-static", "pxelinux", "syslinux-common"]
    out = run("apt-cache", "policy", *packages).stdout
    versions = dict(re.findall(r"^(\S+):\n\s+Installed:.*\n\s+Candidate:\s*(\S+)", out, re.M))
    missing = [p for p in packages if versions.get(p, "(none)") == "(none)"]
    if missing:
        raise RuntimeError(f"apt has no candidate for {missing}; run apt-get update")
    return {p: versions[p] for p in packages}


def cache_key(versions: dict[str, str]) -> str:
    text = json.dumps({"recipe": RECIPE, "init": INIT, "packages": versions}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cpio_newc(entries: list[tuple[str, int, bytes, tuple[int, int]]]) -> bytes:
    """A newc cpio archive. entries: (name, mode, data, (rdevmajor, rdevminor))."""
    out = io.BytesIO()

    def pad():
        out.write(b"\0" * (-out.tell() % 4))

    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", (0, 0))], start=1):
        encoded = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
        out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
        out.write(encoded)
        pad()
        out.write(data)
        pad()
    return out.getvalue()


def _fetch(package: str, version: str, into: str) -> str:
    """apt-get download PACKAGE=VERSION into a scratch directory, unpack, return the tree."""
    download = os.path.join(into, "deb-" + package)
    tree = os.path.join(into, "x-" + package)
    os.makedirs(download)
    fetched = run("apt-get", "download", "-q", f"{package}={version}", cwd=download, timeout=600, check=False)
    if fetched.returncode != 0:
        raise RuntimeError(f"apt-get download {package}={version} failed (apt-get update?): {fetched.stderr.strip()}")
    debs = [f for f in os.listdir(download) if f.endswith(".deb")]
    if len(debs) != 1:
        raise RuntimeError(f"apt-get download {package}: {debs}")
    run("dpkg-deb", "-x", os.path.join(download, debs[0]), tree, timeout=300)
    return tree


def _cached(cache: str, key: str, make) -> str:
    """The directory `cache/key`, made once: `make(scratch)` returns a staging directory holding
    a manifest.json, renamed into place. A lock makes concurrent test runs wait for one build."""
    final = os.path.join(cache, key)
    if os.path.exists(os.path.join(final, "manifest.json")):
        return final
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(final, "manifest.json")):
            return final
        scratch = tempfile.mkdtemp(prefix=f".build-{key}-", dir=cache)
        try:
            staging = make(scratch)
            os.chmod(staging, 0o755)
            if os.path.exists(final):
                shutil.rmtree(final)
            os.rename(staging, final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return final


def _busybox_entries(busybox: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    """What every initramfs here starts with: busybox as /bin/sh, a console, /proc and /sys."""
    return [
        (".", 0o40755, b"", (0, 0)),
        ("bin", 0o40755, b"", (0, 0)),
        ("bin/busybox", 0o100755, busybox, (0, 0)),
        ("bin/sh", 0o120777, b"busybox", (0, 0)),
        ("dev", 0o40755, b"", (0, 0)),
        ("dev/console", 0o20600, b"", (5, 1)),
        ("proc", 0o40755, b"", (0, 0)),
        ("sys", 0o40755, b"", (0, 0)),
    ]


def build(cache: str = CACHE) -> str:
    """Builds the artifacts once per package-version set; returns the files root."""
    versions = package_set()
    key = cache_key(versions)

    def make(scratch: str) -> str:
        kernel = next(p for p in versions if p.startswith("linux-image-"))
        trees = {p: _fetch(p, v, scratch) for p, v in versions.items()}
        staging = os.path.join(scratch, "out")
        out_root = os.path.join(staging, "root")
        os.makedirs(os.path.join(out_root, "images"))
        boot = os.path.join(trees[kernel], "boot")
        vmlinuz = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")]
        shutil.copyfile(os.path.join(boot, vmlinuz[0]), os.path.join(out_root, "images/vmlinuz"))
        shutil.copyfile(os.path.join(trees["pxelinux"], "usr/lib/PXELINUX/lpxelinux.0"),
                        os.path.join(out_root, "lpxelinux.0"))
        shutil.copyfile(os.path.join(trees["syslinux-common"], "usr/lib/syslinux/modules/bios/ldlinux.c32"),
                        os.path.join(out_root, "ldlinux.c32"))
        busybox = open(os.path.join(trees["busybox-static"], "bin/busybox"), "rb").read()
        archive = _cpio_newc(_busybox_entries(busybox) + [("init", 0o100755, INIT.encode(), (0, 0))])
        with open(os.path.join(out_root, "images/initrd.gz"), "wb") as f:
            f.write(gzip.compress(archive, compresslevel=9, mtime=0))
        for dirpath, dirnames, filenames in os.walk(out_root):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)
        manifest = {"packages": versions, "kernel": vmlinuz[0], "recipe": RECIPE,
                    "files": {os.path.relpath(os.path.join(d, n), out_root): os.path.getsize(os.path.join(d, n))
                              for d, _, ns in os.walk(out_root) for n in ns}}
        with open(os.path.join(staging, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
        return staging

    return os.path.join(_cached(cache, key, make), "root")


def manifest(root: str) -> dict:
    return json.load(open(os.path.join(os.path.dirname(root), "manifest.json")))


# ---------------------------------------------------------------------------------------------
# The ephemeral environment for the lifecycle (enlist, commission, deploy): the same kernel, and
# an initramfs whose /init brings up the network with the kernel package's virtio modules, runs
# udhcpc, then does what the kernel command line says — POST the enlistment to `rackplane.enlist=`
# or the report to `rackplane.report=` with `rackplane.token=` — and powers off.

EPHEMERAL_RECIPE = 1  # bump when the initramfs below changes
EPHEMERAL_MARKER = "RACKPLANE-EPHEMERAL"
# The cloud kernel builds virtio-pci and virtio-net as modules (CONFIG_VIRTIO_PCI=m,
# CONFIG_VIRTIO_NET=m; no e1000 at all); this is their load order (modinfo -F depends).
EPHEMERAL_MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
                     "failover", "net_failover", "virtio_net"]

EPHEMERAL_INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin /tmp
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
say() { echo "MARKER $*" > /dev/console; }
finish() { say "$1"; sync; poweroff -f; }
CMDLINE=$(cat /proc/cmdline)
arg() { for word in $CMDLINE; do case "$word" in "$1="*) echo "${word#*=}"; return 0;; esac; done; return 1; }
say "start $CMDLINE"
for module in MODULES; do insmod /lib/modules/$module.ko || say "insmod $module failed"; done
# The interface that booted: BOOTIF=01-52-54-00-… (pxelinux's IPAPPEND 2; GRUB and iPXE configs
# carry it too), else the first one there is.
MAC=$(arg BOOTIF | sed -e 's/^01-//' -e 's/-/:/g' | tr A-F a-f)
IFACE=""
for i in $(seq 1 100); do
  for dev in /sys/class/net/*; do
    name=${dev##*/}
    [ "$name" = lo ] && continue
    address=$(cat "$dev/address")
    if [ -z "$MAC" ] || [ "$address" = "$MAC" ]; then IFACE=$name; MAC=$address; break 2; fi
  done
  sleep 0.1
done
[ -n "$IFACE" ] || finish "no network interface"
ip link set lo up
ip link set "$IFACE" up
udhcpc -i "$IFACE" -n -q -t 10 -T 2 -s /etc/udhcpc.script > /dev/console 2>&1 || finish "no DHCP lease on $IFACE"
# No wget -T: Debian 12's static busybox 1.35 segfaults with it; timeout(1) bounds the call instead.
post() {
  if [ -n "$3" ]; then
    timeout 30 wget -q -O /tmp/reply --header "Content-Type: application/json" --header "Authorization: Bearer $3" --post-data "$2" "$1"
  else
    timeout 30 wget -q -O /tmp/reply --header "Content-Type: application/json" --post-data "$2" "$1"
  fi
}
case "$(uname -m)" in x86_64) ARCH=amd64;; aarch64) ARCH=arm64;; i?86) ARCH=i386;; *) ARCH=amd64;; esac
if URL=$(arg rackplane.enlist); then
  NAME=$(cat /tmp/hostname 2>/dev/null)
  BODY="{\"mac\": \"$MAC\", \"architecture\": \"$ARCH\"${NAME:+, \"hostname\": \"$NAME\"}}"
  for try in 1 2 3; do
    post "$URL" "$BODY" && finish "enlisted $(head -c 300 /tmp/reply)"
    sleep 2
  done
  finish "enlistment failed"
fi
if URL=$(arg rackplane.report); then
  TOKEN=$(arg rackplane.token)
  CPUS=$(grep -c ^processor /proc/cpuinfo)
  MEMORY=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  PURPOSE=$(arg rackplane.purpose)
  # The region's caching proxy, as APT would be given it (docs/proxy.md), asked for with the
  # boot's token; one request through it shows it serves this machine.
  PROXY=$(timeout 30 wget -q -O - --header "Authorization: Bearer $TOKEN" "${URL%/report}/proxy" \
          | sed -n 's/.*"http_proxy" *: *"\([^"]*\)".*/\1/p')
  THROUGH=none
  if [ -n "$PROXY" ]; then
    THROUGH=$(http_proxy=$PROXY timeout 30 wget -q -O - "${URL%%/api/*}/healthz" 2>/dev/null || echo failed)
  fi
  BODY="{\"status\": \"ok\", \"message\": \"$PURPOSE finished\", \"facts\": {\"cpus\": $CPUS, \"memory_kib\": $MEMORY, \"mac\": \"$MAC\", \"http_proxy\": \"$PROXY\", \"through_proxy\": \"$THROUGH\"}}"
  for try in 1 2 3; do
    post "$URL" "$BODY" "$TOKEN" && finish "reported $PURPOSE $(head -c 300 /tmp/reply)"
    sleep 2
  done
  finish "report failed"
fi
finish "nothing to do"
""".replace("MARKER", EPHEMERAL_MARKER).replace("MODULES", " ".join(EPHEMERAL_MODULES))

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    for r in $router; do route add default gw "$r" dev "$interface"; break; done
    [ -n "$hostname" ] && echo "$hostname" > /tmp/hostname
    echo "MARKER lease $ip on $interface" > /dev/console
    ;;
  deconfig)
    ifconfig "$interface" 0.0.0.0
    ;;
esac
exit 0
""".replace("MARKER", EPHEMERAL_MARKER)


def build_ephemeral(cache: str = CACHE) -> str:
    """The ephemeral environment, built once per package set and recipe: returns a directory
    holding `vmlinuz` and `initrd.gz`."""
    versions = package_set()
    text = json.dumps({"recipe": EPHEMERAL_RECIPE, "init": EPHEMERAL_INIT, "udhcpc": UDHCPC_SCRIPT,
                       "modules": EPHEMERAL_MODULES, "packages": versions}, sort_keys=True)
    key = "ephemeral-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    root = build(cache)

    def make(scratch: str) -> str:
        kernel = next(p for p in versions if p.startswith("linux-image-"))
        tree = _fetch(kernel, versions[kernel], scratch)
        busybox_tree = _fetch("busybox-static", versions["busybox-static"], scratch)
        modules = {}
        for dirpath, _, filenames in os.walk(os.path.join(tree, "lib/modules")):
            for name in filenames:
                stem = name.split(".ko")[0]
                if stem in EPHEMERAL_MODULES and name.endswith(".ko"):
                    modules[stem] = open(os.path.join(dirpath, name), "rb").read()
        missing = [m for m in EPHEMERAL_MODULES if m not in modules]
        if missing:
            raise RuntimeError(f"{kernel} has no uncompressed module for {missing}")
        busybox = open(os.path.join(busybox_tree, "bin/busybox"), "rb").read()
        entries = _busybox_entries(busybox) + [
            ("etc", 0o40755, b"", (0, 0)),
            ("etc/udhcpc.script", 0o100755, UDHCPC_SCRIPT.encode(), (0, 0)),
            ("lib", 0o40755, b"", (0, 0)),
            ("lib/modules", 0o40755, b"", (0, 0)),
            *[(f"lib/modules/{m}.ko", 0o100644, modules[m], (0, 0)) for m in EPHEMERAL_MODULES],
            ("tmp", 0o41777, b"", (0, 0)),
            ("init", 0o100755, EPHEMERAL_INIT.encode(), (0, 0)),
        ]
        staging = os.path.join(scratch, "out")
        os.makedirs(staging)
        with open(os.path.join(staging, "initrd.gz"), "wb") as f:
            f.write(gzip.compress(_cpio_newc(entries), compresslevel=9, mtime=0))
        shutil.copyfile(os.path.join(root, "images/vmlinuz"), os.path.join(staging, "vmlinuz"))
        for name in ("initrd.gz", "vmlinuz"):
            os.chmod(os.path.join(staging, name), 0o644)
        with open(os.path.join(staging, "manifest.json"), "w") as f:
            json.dump({"packages": versions, "recipe": EPHEMERAL_RECIPE, "modules": EPHEMERAL_MODULES,
                       "files": {n: os.path.getsize(os.path.join(staging, n)) for n in ("vmlinuz", "initrd.gz")}}, f, indent=1)
        return staging

    return _cached(cache, key, make)


# ---------------------------------------------------------------------------------------------
# Site files

def mac_of(index: int) -> str:
    return f"52:54:00:00:00:{index:02x}"


def site(files_root: str, machines: list[dict], ipxe_script: str | None = None,
         cmdline: str = "console=ttyS0 panic=-1") -> str:
    """A site file for br0's subnet. machines: [{hostname, mac, ip, purpose}]."""
    lines = [
        "domain: maas.test",
        f"files: {files_root}",
        "subnets:",
        "  - cidr: 198.18.0.0/24",
        "    gateway: 198.18.0.1",
        "    dns_servers: [198.18.0.1]",
        "    next_server: 198.18.0.1",
        "    lease_seconds: 600",
        "    pools: [{start: 198.18.0.100, end: 198.18.0.250}]",
        "    reserved: [{start: 198.18.0.1, end: 198.18.0.40}]",
        "    unknown_clients: serve",
        "boot:",
        "  files: {bios: lpxelinux.0}",
    ]
    if ipxe_script:
        lines.append(f"  ipxe_script: {ipxe_script}")
    lines += ["  kernel: images/vmlinuz", "  initrd: images/initrd.gz", f"  cmdline: {cmdline}", "machines:"]
    for m in machines:
        lines.append(f"  - {{hostname: {m['hostname']}, mac: \"{m['mac']}\", ip: {m['ip']}, arch: amd64, purpose: {m['purpose']}}}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The network

class BootNet:
    """Namespace A: br0 198.18.0.1/24, taps tap0…, an RA sender, optionally tcpdump on br0."""

    def __init__(self, tag: str, workdir: str):
        self.ns = f"rpboot{os.getpid() % 100000}{tag}"
        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []
        self.taps: list[str] = []
        self.capture: str | None = None
        run("ip", "netns", "add", self.ns)
        try:
            self.sysctl("net.ipv6.conf.default.accept_dad", "0")
            self.sysctl("net.ipv6.conf.all.accept_dad", "0")
            run("ip", "-n", self.ns, "link", "set", "lo", "up")
            run("ip", "-n", self.ns, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
            run("ip", "-n", self.ns, "addr", "add", "198.18.0.1/24", "dev", "br0")
            run("ip", "-n", self.ns, "addr", "add", "fe80::1/64", "dev", "br0", "nodad")
            run("ip", "-n", self.ns, "link", "set", "br0", "up")
            self.spawn(sys.executable, os.path.abspath(__file__), "ra", "br0",
                       stdout=open(os.path.join(workdir, "ra.log"), "w"))
        except Exception:
            self.close()
            raise

    def sysctl(self, key: str, value: str):
        run("ip", "netns", "exec", self.ns, "sysctl", "-q", "-w", f"{key}={value}")

    def exec(self, *argv, **kw):
        return run("ip", "netns", "exec", self.ns, *argv, **kw)

    def spawn(self, *argv, stdout=None, stderr=None, cwd=None) -> subprocess.Popen:
        process = subprocess.Popen(["ip", "netns", "exec", self.ns, *argv], stdin=subprocess.DEVNULL,
                                   stdout=stdout or subprocess.DEVNULL, stderr=stderr or subprocess.STDOUT,
                                   start_new_session=True, cwd=cwd)
        self.processes.append(process)
        return process

    def add_tap(self) -> str:
        name = f"tap{len(self.taps)}"
        run("ip", "-n", self.ns, "tuntap", "add", "dev", name, "mode", "tap")
        run("ip", "-n", self.ns, "link", "set", name, "master", "br0")
        run("ip", "-n", self.ns, "link", "set", name, "up")
        self.taps.append(name)
        return name

    def start_capture(self, path: str, expression: str = "udp or tcp port 5248"):
        self.capture = path
        self._dump = self.spawn("tcpdump", "-i", "br0", "-s", "0", "-U", "-w", path, expression,
                                stdout=open(path + ".log", "w"))
        deadline = time.time() + 10
        while time.time() < deadline and "listening on" not in open(path + ".log").read():
            time.sleep(0.05)

    def stop_capture(self):
        if self.capture and self._dump.poll() is None:
            os.killpg(self._dump.pid, signal.SIGINT)
            try:
                self._dump.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._dump.pid, signal.SIGKILL)

    def close(self):
        self.stop_capture()
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        for pid in run("ip", "netns", "pids", self.ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        run("ip", "netns", "del", self.ns, check=False)


# ---------------------------------------------------------------------------------------------
# Servers: the rack, or a reference peer (dnsmasq + Python's http.server) to tell a lab problem
# from a rack problem.

class RackServer:
    def __init__(self, net: BootNet, site_text: str, workdir: str):
        self.net = net
        self.site_path = os.path.join(workdir, "site.yaml")
        self.state = os.path.join(workdir, "state")
        self.log_path = os.path.join(workdir, "rack.log")
        with open(self.site_path, "w") as f:
            f.write(site_text)

    def start(self):
        argv = [RACKPLANE, "rack", "--site", self.site_path, "--interface", "br0", "--state-dir", self.state]
        if "--access-log" in run(RACKPLANE, "rack", "--help", check=False).stdout:
            argv.append("--access-log")
        self.process = self.net.spawn(*argv, stdout=open(self.log_path, "a"))
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("rack exited: " + self.log_text())
            if "serving with" in self.log_text():
                return self
            time.sleep(0.05)
        raise RuntimeError("rack did not start: " + self.log_text())

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return open(self.log_path, errors="replace").read()


PXELINUX_CFG = """DEFAULT {purpose}
PROMPT 0
TIMEOUT 0

LABEL {purpose}
  KERNEL images/vmlinuz
  INITRD images/initrd.gz
  APPEND {cmdline} rackplane.purpose={purpose} rackplane.mac={mac}
  IPAPPEND 2
"""

IPXE_CFG = """#!ipxe
kernel http://198.18.0.1:5248/images/vmlinuz initrd=initrd {cmdline} BOOTIF=01-${{net0/mac:hexhyp}} rackplane.purpose={purpose} rackplane.mac=${{net0/mac}}
initrd --name initrd http://198.18.0.1:5248/images/initrd.gz
boot
"""


class ReferenceServer:
    """dnsmasq (DHCP + TFTP) and python3 -m http.server on :5248, with static configs.

    Only for checking the lab itself (RACKPLANE_BOOTLAB_SERVER=dnsmasq): every machine gets
    the same purpose in the iPXE script (the first machine's), since the config is static.
    """

    def __init__(self, net: BootNet, files_root: str, machines: list[dict], workdir: str,
                 ipxe_script: str | None, cmdline: str = "console=ttyS0 panic=-1"):
        self.net = net
        self.root = os.path.join(workdir, "tftp")
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        shutil.copytree(files_root, self.root)
        os.makedirs(os.path.join(self.root, "pxelinux.cfg"))
        for m in machines:
            name = "01-" + m["mac"].replace(":", "-")
            with open(os.path.join(self.root, "pxelinux.cfg", name), "w") as f:
                f.write(PXELINUX_CFG.format(purpose=m["purpose"], cmdline=cmdline, mac=m["mac"]))
        with open(os.path.join(self.root, "ipxe.cfg"), "w") as f:
            f.write(IPXE_CFG.format(purpose=machines[0]["purpose"], cmdline=cmdline))
        self.argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=br0",
                     "--bind-interfaces", "--log-dhcp", "--dhcp-range=198.18.0.100,198.18.0.250,255.255.255.0,10m",
                     f"--dhcp-leasefile={workdir}/dnsmasq.leases", "--enable-tftp", f"--tftp-root={self.root}",
                     "--dhcp-vendorclass=set:pxe,PXEClient", "--dhcp-userclass=set:ipxe,iPXE",
                     f"--pid-file={workdir}/dnsmasq.pid"]
        self.argv += [f"--dhcp-host={m['mac']},{m['ip']},{m['hostname']}" for m in machines]
        if ipxe_script:
            self.argv.append(f"--dhcp-boot=tag:ipxe,{ipxe_script}")
        self.argv.append("--dhcp-boot=tag:!ipxe,lpxelinux.0,,198.18.0.1" if ipxe_script else "--dhcp-boot=lpxelinux.0,,198.18.0.1")

    def start(self):
        self.process = self.net.spawn(*self.argv, stdout=open(self.log_path, "a"))
        self.http = self.net.spawn(sys.executable, "-m", "http.server", "--bind", "198.18.0.1", "5248",
                                   cwd=self.root, stdout=open(self.log_path + ".http", "a"))
        time.sleep(0.5)
        if self.process.poll() is not None:
            raise RuntimeError("dnsmasq exited: " + self.log_text())
        return self

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return open(self.log_path, errors="replace").read()


# ---------------------------------------------------------------------------------------------
# Guests

class Guest:
    """One QEMU guest on a tap in the namespace; serial console in `<workdir>/<name>.console`."""

    def __init__(self, net: BootNet, mac: str, workdir: str, name: str):
        self.net = net
        self.mac = mac
        self.name = name
        self.tap = net.add_tap()
        self.console_path = os.path.join(workdir, name + ".console")
        self.started = 0.0
        self.finished: float | None = None

    def start(self):
        self.started = time.monotonic()
        argv = [QEMU, "-accel", "tcg", "-m", "256", "-smp", "1", "-nographic", "-no-reboot", "-boot", "n",
                "-netdev", f"tap,ifname={self.tap},script=no,downscript=no,id=n0",
                "-device", f"virtio-net-pci,netdev=n0,mac={self.mac}"]
        self.process = self.net.spawn(*argv, stdout=open(self.console_path, "wb"))
        return self

    def console(self) -> str:
        return open(self.console_path, "rb").read().decode("utf-8", "replace").replace("\r", "")

    def marker_line(self) -> str | None:
        for line in self.console().splitlines():
            if MARKER in line:
                return line[line.index(MARKER):]
        return None

    def poll(self) -> bool:
        """Whether QEMU has exited (the guest powered off, or failed); notes when."""
        if self.finished is None and self.process.poll() is not None:
            self.finished = time.monotonic()
        return self.finished is not None

    def kill(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    def cmdline(self) -> dict[str, str]:
        line = self.marker_line() or ""
        words = line.split()[1:]
        return {w.split("=", 1)[0]: (w.split("=", 1)[1] if "=" in w else "") for w in words}

    def excerpt(self, lines: int = 40) -> str:
        text = self.console().splitlines()
        # ANSI colour and cursor codes from iPXE make the excerpt hard to read.
        cleaned = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", l) for l in text[-lines:]]
        return f"--- {self.name} ({self.mac}) console, last {lines} lines ---\n" + "\n".join(cleaned)


def qmp_status(path: str) -> str:
    """QEMU's own word on its state, asked over the same QMP socket, without RackPlane."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        f = s.makefile("rw")
        f.readline()
        answers = []
        for command in ("qmp_capabilities", "query-status"):
            f.write(json.dumps({"execute": command}) + "\n")
            f.flush()
            while True:
                message = json.loads(f.readline())
                if "event" not in message:
                    answers.append(message)
                    break
        return answers[-1]["return"]["status"]


def wait_all(guests: list[Guest], deadline: float) -> bool:
    """Until every guest's QEMU has exited or the deadline (monotonic) passes."""
    while time.monotonic() < deadline:
        if all([g.poll() for g in guests]):
            return True
        time.sleep(0.1)
    return all([g.poll() for g in guests])


def decode_capture(path: str) -> list[dict]:
    out = run(RACKPLANE, "pcap", "decode", path, check=False).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


# ---------------------------------------------------------------------------------------------
# IPv6 router advertisements (iPXE waits ~13 s for one otherwise)

def ra_sender(interface: str):
    index = socket.if_nametoindex(interface)
    mac = open(f"/sys/class/net/{interface}/address").read().strip()
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, "ff02::2") + struct.pack("@I", index))
    # Type 134, hop limit 64, no M/O flags (so no DHCPv6), router lifetime 0 (not a default
    # router), source link-layer address option. The kernel fills in the checksum.
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0) + bytes([1, 1]) + bytes.fromhex(mac.replace(":", ""))
    last = 0.0
    while True:
        ready, _, _ = select.select([s], [], [], 1.0)
        solicited = False
        if ready:
            data, _ = s.recvfrom(2048)
            solicited = bool(data) and data[0] == 133
        if solicited or time.monotonic() - last >= 1.0:
            try:
                s.sendto(ra, ("ff02::1", 0, 0, index))
                if solicited:
                    print("RA for RS", flush=True)
            except OSError as error:
                print("RA:", error, flush=True)
            last = time.monotonic()


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        root = build()
        print(root)
        print(json.dumps(manifest(root), indent=1))
    elif sys.argv[1:2] == ["ephemeral"]:
        print(build_ephemeral())
    elif sys.argv[1:2] == ["ra"]:
        ra_sender(sys.argv[2])
    else:
        sys.exit(__doc__)
