"""Real network boots: QEMU (TCG, iPXE ROM) in a namespace against `rackplane rack`.

(a) BIOS pxelinux: the ROM's iPXE gets `lpxelinux.0` (no `ipxe_script` in the site, so the
    architecture's file), then over TFTP `ldlinux.c32`, `pxelinux.cfg/01-<mac>` and the kernel and
    initrd; (b) iPXE script: `http://198.18.0.1:5248/ipxe.cfg`, kernel and initrd over HTTP;
(c) four guests at once. Every guest must print the marker and its command line (BOOTIF, purpose,
MAC) from its initramfs and power off within GUEST_SECONDS.

Artifacts come from bootlab.build() (cached under /var/tmp/rackplane-bootlab). Only 198.18.0.0/15,
only namespaces made here. RACKPLANE_BOOTLAB_SERVER=dnsmasq runs the same boots against dnsmasq
and Python's http.server, to tell a lab problem from a rack problem.
"""

from __future__ import annotations

import collections
import os
import shutil
import time

import pytest

import bootlab
from bootlab import BootNet, Guest, RackServer, ReferenceServer, mac_of

SERVER = os.environ.get("RACKPLANE_BOOTLAB_SERVER", "rack")
GUEST_SECONDS = float(os.environ.get("RACKPLANE_BOOT_SECONDS", "120"))
IPXE_SCRIPT = "http://198.18.0.1:5248/ipxe.cfg"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and taps need root"),
    pytest.mark.skipif(shutil.which(bootlab.QEMU) is None, reason="qemu-system-x86 is not installed (scripts/setup)"),
]


@pytest.fixture(scope="module")
def files_root():
    return bootlab.build()


def machine(index: int, purpose: str = "commission") -> dict:
    return {"hostname": f"node{index:02d}", "mac": mac_of(index), "ip": f"198.18.0.{20 + index}", "purpose": purpose}


def summarise(packets: list[dict]) -> str:
    """A few lines about a capture: DHCP exchanges, TFTP requests and errors, HTTP requests."""
    lines, data = [], collections.Counter()
    for p in packets:
        if p["proto"] == "dhcp":
            lines.append(f"dhcp {p.get('msg_type')} {p.get('chaddr')} yiaddr={p.get('yiaddr')} file={p.get('file')!r} "
                         f"user_class={p.get('user_class')}")
        elif p["proto"] == "tftp":
            if p.get("opcode") == 3:
                data[f"{p['src']}:{p['sport']} > {p['dst']}:{p['dport']}"] += 1
            elif p.get("opcode") != 4:
                lines.append(f"tftp op={p.get('opcode')} {p['src']}:{p['sport']}>{p['dst']}:{p['dport']} "
                             f"{p.get('filename') or ''} {p.get('options') or ''} {p.get('error_msg') or ''}".rstrip())
        elif p["proto"] == "http":
            lines.append(f"http {p['src']} {p.get('method')} {p.get('target')} range={p.get('range')}")
    lines += [f"tftp data blocks {k}: {n}" for k, n in data.items()]
    return "\n".join(lines[-80:])


def boot(tmp_path, files_root, machines: list[dict], ipxe_script: str | None):
    """Boots one guest per machine at once; returns (guests, packets, server, elapsed)."""
    workdir = str(tmp_path)
    os.chmod(workdir, 0o755)
    net = BootNet(str(len(machines)) + ("i" if ipxe_script else "p"), workdir)
    try:
        if SERVER == "dnsmasq":
            server = ReferenceServer(net, files_root, machines, workdir, ipxe_script)
        else:
            server = RackServer(net, bootlab.site(files_root, machines, ipxe_script), workdir)
        net.start_capture(os.path.join(workdir, "br0.pcap"))
        server.start()
        guests = [Guest(net, m["mac"], workdir, m["hostname"]) for m in machines]
        started = time.monotonic()
        for g in guests:
            g.start()
        bootlab.wait_all(guests, started + GUEST_SECONDS)
        elapsed = time.monotonic() - started
        for g in guests:
            g.kill()
        server.survived = server.alive()
        time.sleep(0.3)
        net.stop_capture()
        packets = bootlab.decode_capture(net.capture)
        return guests, packets, server, elapsed
    finally:
        net.close()


def report(guests, packets, server) -> str:
    parts = [g.excerpt() for g in guests]
    parts.append("--- server log (tail) ---\n" + "\n".join(server.log_text().splitlines()[-30:]))
    parts.append("--- capture ---\n" + summarise(packets))
    return "\n\n".join(parts)


def check_booted(guests, machines, packets, server):
    failures = []
    for g, m in zip(guests, machines):
        acks = [p.get("yiaddr") for p in packets if p["proto"] == "dhcp" and p.get("msg_type") == 5 and p.get("chaddr") == m["mac"]]
        if not acks:
            failures.append(f"{g.name}: no DHCP ACK")
        elif any(a != m["ip"] for a in acks):
            failures.append(f"{g.name}: DHCP ACKs gave {sorted(set(acks))}, expected its reservation {m['ip']}")
        line = g.marker_line()
        if line is None:
            failures.append(f"{g.name}: no {bootlab.MARKER} within {GUEST_SECONDS:.0f} s")
            continue
        words = g.cmdline()
        expected = {"BOOTIF": "01-" + m["mac"].replace(":", "-"), "rackplane.purpose": m["purpose"], "rackplane.mac": m["mac"]}
        for key, value in expected.items():
            if words.get(key) != value:
                failures.append(f"{g.name}: {key}={words.get(key)!r}, expected {value!r} in {line!r}")
        if g.seconds is None:
            failures.append(f"{g.name}: printed the marker but did not power off")
    assert not failures, "\n".join(failures) + "\n\n" + report(guests, packets, server)


def tftp_requests(packets, client: str | None = None) -> list[str]:
    return [p.get("filename") for p in packets if p["proto"] == "tftp" and p.get("opcode") == 1
            and (client is None or p["src"] == client)]


def http_targets(packets, client: str | None = None) -> list[str]:
    return [p.get("target") for p in packets if p["proto"] == "http" and (client is None or p["src"] == client)]


def test_bios_pxelinux_boot_over_tftp(tmp_path, files_root):
    machines = [machine(1, "commission")]
    guests, packets, server, elapsed = boot(tmp_path, files_root, machines, ipxe_script=None)
    print(f"pxelinux boot: {guests[0].seconds or elapsed:.1f} s")
    check_booted(guests, machines, packets, server)
    console = guests[0].console()
    assert "PXELINUX" in console, report(guests, packets, server)
    requested = tftp_requests(packets)
    for name in ("lpxelinux.0", "ldlinux.c32", "pxelinux.cfg/01-52-54-00-00-00-01", "images/vmlinuz", "images/initrd.gz"):
        assert any((r or "").lstrip("/") == name for r in requested), (name, requested, report(guests, packets, server))
    assert not http_targets(packets), "the pxelinux path should not use HTTP"


def test_ipxe_script_boot_over_http(tmp_path, files_root):
    machines = [machine(2, "deploy")]
    guests, packets, server, elapsed = boot(tmp_path, files_root, machines, ipxe_script=IPXE_SCRIPT)
    print(f"iPXE boot: {guests[0].seconds or elapsed:.1f} s")
    check_booted(guests, machines, packets, server)
    targets = http_targets(packets)
    for name in ("/ipxe.cfg", "/images/vmlinuz", "/images/initrd.gz"):
        assert name in targets, (name, targets, report(guests, packets, server))
    assert not tftp_requests(packets), "the iPXE script path should not use TFTP"


def test_four_guests_at_once(tmp_path, files_root):
    machines = [machine(3, "commission"), machine(4, "deploy"), machine(5, "rescue"), machine(6, "commission")]
    if SERVER == "dnsmasq":
        machines = [dict(m, purpose="commission") for m in machines]
    guests, packets, server, elapsed = boot(tmp_path, files_root, machines, ipxe_script=None)
    print("four guests: " + ", ".join(f"{g.name} {g.seconds:.1f} s" if g.seconds else f"{g.name} -" for g in guests)
          + f"; all within {elapsed:.1f} s")
    check_booted(guests, machines, packets, server)
    assert server.survived, report(guests, packets, server)
