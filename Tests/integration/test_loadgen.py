"""`rackplane loadgen`, `pcap replay` and `pcap record` against a real rack in namespaces.

The rack serves 198.18.0.1 in namespace A; the simulated machines live in B behind a relay at
198.19.0.1, and B takes the whole relayed pool as its own (`ip route add local 198.19.0.0/16`), so
each machine's TFTP, HTTP and DNS come from the address it leased. Assertions are on behaviour —
what booted, what failed at which stage, bytes, leases, answers — never on timings. Only
198.18.0.0/15, only namespaces made here, every process removed by PID.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from netlab import RACKPLANE, Lab, RackProcess, run

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.abspath(os.environ.get("CORPUS", os.path.join(HERE, "../../../shared/corpus")))

LOADER = 100 * 1024
KERNEL = 1024 * 1024
INITRD = 2 * 1024 * 1024

SITE = """\
domain: maas.test
files: {files}
subnets:
  - cidr: 198.18.0.0/24
    gateway: 198.18.0.1
    dns_servers: [198.18.0.1]
    next_server: 198.18.0.1
    pools: [{{start: 198.18.0.100, end: 198.18.0.250}}]
    reserved: [{{start: 198.18.0.1, end: 198.18.0.20}}]
  - cidr: 198.19.0.0/16
    gateway: 198.19.0.1
    next_server: 198.18.0.1
    pools: [{{start: 198.19.0.10, end: 198.19.255.250}}]
boot:
  files: {{bios: lpxelinux.0, uefi-x64: bootx64.efi}}
  ipxe_script: http://198.18.0.1:5248/ipxe.cfg
  kernel: images/vmlinuz
  initrd: images/initrd.gz
  cmdline: console=ttyS0
"""


class Fleet:
    def __init__(self, lab: Lab, rack: RackProcess, workdir: str):
        self.lab = lab
        self.rack = rack
        self.workdir = workdir

    def loadgen(self, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        argv = ["ip", "netns", "exec", self.lab.b, RACKPLANE, "loadgen", "--server", "198.18.0.1",
                "--relay-address", "198.19.0.1", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def replay(self, capture: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        argv = ["ip", "netns", "exec", self.lab.b, RACKPLANE, "pcap", "replay", capture, "--server", "198.18.0.1",
                "--relay-address", "198.19.0.1", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def write_file(path: str, size: int):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(size))


@pytest.fixture
def fleet(tmp_path):
    files = str(tmp_path / "files")
    write_file(os.path.join(files, "lpxelinux.0"), LOADER)
    write_file(os.path.join(files, "bootx64.efi"), LOADER)
    write_file(os.path.join(files, "images/vmlinuz"), KERNEL)
    write_file(os.path.join(files, "images/initrd.gz"), INITRD)
    # What the two corpus boots ask for (pxelinux.cfg/* and ipxe.cfg are rendered by the rack).
    for name in ("pxelinux.0", "ldlinux.c32", "boot.ipxe", "vmlinuz", "initrd.gz"):
        write_file(os.path.join(files, name), 40_000)
    lab = Lab("lg", relay=True)
    try:
        lab.exec_b("ip", "route", "add", "local", "198.19.0.0/16", "dev", "lo")
        rack = RackProcess(lab, str(tmp_path), site=SITE.format(files=files))
        rack.start()
        yield Fleet(lab, rack, str(tmp_path))
    finally:
        lab.close()


def report(result: subprocess.CompletedProcess) -> dict:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def test_fifty_machines_of_each_firmware_boot_through_every_stage(fleet):
    result = fleet.loadgen("--count", "50", "--mix", "bios=2,uefi=2,ipxe=1", "--json")
    r = report(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (r["requested"], r["booted"], r["failed"], r["not_started"]) == (50, 50, 0, 0)
    assert r["firmware"] == {"bios": {"booted": 20, "failed": 0}, "uefi": {"booted": 20, "failed": 0},
                             "ipxe": {"booted": 10, "failed": 0}}
    assert r["source_addresses"] == "leased"
    s = r["stages"]
    assert s["dhcp"]["ok"] == 50 and s["dhcp"]["latency_ms"]["count"] == 50
    # BIOS and UEFI read their boot loader over TFTP; iPXE is handed its script's URL instead.
    assert (s["tftp"]["ok"], s["tftp"]["skipped"]) == (40, 10)
    assert s["tftp"]["bytes"] == 40 * LOADER
    # Everyone GETs kernel and initrd on one connection; iPXE machines their script first.
    assert s["http"]["ok"] == 50 and s["http"]["operations"] == 50 * 2 + 10
    assert s["http"]["bytes"] >= 50 * (KERNEL + INITRD)
    # Each looks up its own name: the lease's host name, published into the rack's zones.
    assert s["dns"]["ok"] == 50 and s["dns"]["failures"] == {}
    for stage in ("dhcp", "tftp", "http", "dns"):
        latency = s[stage]["latency_ms"]
        assert latency["p50"] <= latency["p99"] <= latency["max"]

    # The rack agrees: fifty leases from the relayed pool, for exactly these MACs.
    macs = {f"02:00:00:00:00:{i:02x}" for i in range(1, 51)}
    leases = [lease for lease in fleet.rack.leases() if lease["mac"] in macs]
    assert len(leases) == 50
    assert all(lease["address"].startswith("198.19.") for lease in leases)
    assert len({lease["address"] for lease in leases}) == 50
    assert fleet.lab.metric("rackplane_tftp_transfers_finished_total") >= 40


def test_the_table_reports_every_stage(fleet):
    result = fleet.loadgen("--count", "5", "--first-mac", "02:00:00:00:01:00")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "booted 5  failed 0" in result.stdout
    header = next(line for line in lines if line.startswith("stage"))
    assert all(column in header for column in ("p50", "p90", "p99", "max", "throughput"))
    for stage in ("dhcp", "tftp", "http", "dns", "boot"):
        assert any(line.startswith(stage + " ") for line in lines), stage
    assert "\x1b[K" not in result.stderr, "no progress line when standard error is not a terminal"
    forced = fleet.loadgen("--count", "3", "--first-mac", "02:00:00:00:02:00", "--progress")
    assert forced.returncode == 0 and "booted 3" in forced.stderr


def test_broadcast_mode_boots_machines_on_the_racks_own_link(fleet):
    # No relay: DISCOVERs are broadcast on B's interface with the broadcast flag, and the rack
    # leases from the subnet of the link they arrive on. B does not own those addresses, so the
    # later stages use the source the kernel picks (and the report says so).
    argv = ["ip", "netns", "exec", fleet.lab.b, RACKPLANE, "loadgen", "--server", "198.18.0.1", "--interface", "cb",
            "--count", "10", "--first-mac", "02:00:00:00:07:00", "--stages", "dhcp,tftp,http", "--json"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    r = report(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert r["booted"] == 10 and r["stages"]["tftp"]["bytes"] == 10 * LOADER
    assert r["source_addresses"].startswith("kernel-chosen")
    leases = [l for l in fleet.rack.leases() if l["mac"].startswith("02:00:00:00:07:")]
    assert len(leases) == 10 and all(l["address"].startswith("198.18.0.") for l in leases)


def test_a_missing_boot_loader_fails_at_the_tftp_stage(fleet):
    result = fleet.loadgen("--count", "10", "--first-mac", "02:00:00:00:03:00", "--tftp-file", "missing.bin", "--json")
    r = report(result)
    assert result.returncode == 1
    assert (r["booted"], r["failed"]) == (0, 10)
    s = r["stages"]
    assert s["dhcp"]["ok"] == 10 and s["dhcp"]["failed"] == 0
    assert s["tftp"]["failures"] == {"error 1": 10}
    assert s["http"]["ok"] == 0 and s["dns"]["ok"] == 0
    assert any("missing.bin" in sample and "tftp: error 1" in sample for sample in r["failure_samples"])


def test_a_stopped_server_fails_every_machine_at_dhcp_and_the_run_ends(fleet):
    fleet.rack.kill()
    result = fleet.loadgen("--count", "20", "--first-mac", "02:00:00:00:04:00", "--stage-timeout", "2", "--json")
    r = report(result)
    assert result.returncode == 1
    assert (r["booted"], r["failed"], r["not_started"]) == (0, 20, 0)
    assert r["stages"]["dhcp"]["failures"] == {"timeout": 20}
    assert all(r["stages"][stage]["ok"] == 0 for stage in ("tftp", "http", "dns"))
    assert "stopped_by" not in r

    # --duration bounds the run whatever the stage timeout: in-flight machines fail as "deadline".
    bounded = fleet.loadgen("--count", "30", "--first-mac", "02:00:00:00:05:00", "--stage-timeout", "600",
                            "--duration", "2", "--rate", "10", "--json")
    b = report(bounded)
    assert bounded.returncode == 1
    assert b["booted"] == 0 and b["stopped_by"].startswith("deadline")
    assert b["stages"]["dhcp"]["failures"] == {"deadline": b["failed"]}
    assert b["failed"] + b["not_started"] == 30 and b["not_started"] > 0


def test_bad_input_is_refused_with_a_reason(fleet):
    cases = [
        (["--count", "0"], "--count"),
        (["--mix", "arm=1"], "--mix"),
        (["--stages", "dhcp,pxe"], "--stages"),
        (["--first-mac", "ff:ff:ff:ff:ff:ff"], "group address"),
        (["--blksize", "7"], "--blksize"),
    ]
    for args, words in cases:
        result = fleet.loadgen(*args)
        assert result.returncode not in (0, 1) or "Error" in result.stderr, args
        assert words in result.stderr, (args, result.stderr)
        assert "Fatal error" not in result.stderr and "Crash" not in result.stderr
    stranger = subprocess.run(["ip", "netns", "exec", fleet.lab.b, RACKPLANE, "loadgen", "--server", "198.18.0.1",
                               "--relay-address", "198.18.9.9", "--count", "1"], capture_output=True, text=True, timeout=30)
    assert stranger.returncode == 1 and "relay address configured" in stranger.stderr
    neither = subprocess.run([RACKPLANE, "loadgen", "--server", "198.18.0.1"], capture_output=True, text=True, timeout=30)
    assert neither.returncode != 0 and "--relay-address" in neither.stderr


@pytest.mark.parametrize("capture", ["ipxe-boot.pcap", "pxelinux-boot.pcap"])
def test_replaying_a_real_boot_gets_every_request_answered(fleet, capture):
    path = os.path.join(CORPUS, "pxe", capture)
    if not os.path.exists(path):
        pytest.skip(f"corpus capture {path} not present")
    result = fleet.replay(path, "--json")
    r = report(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert r["unanswered"] == 0 and r["answered"] == r["sent"] > 0
    protocols = r["protocols"]
    assert protocols["dhcp"]["sent"] == 3 and protocols["dhcp"]["answered"] == 3
    assert protocols["tftp"]["sent"] >= 1 and protocols["tftp"]["unanswered"] == 0
    if capture == "ipxe-boot.pcap":
        assert protocols["http"]["sent"] == 2 and protocols["http"]["answered"] == 2

    # Copies replay side by side without colliding: each gets a lease of its own.
    copies = fleet.replay(path, "--copies", "20", "--first-mac", "02:10:00:00:10:00", "--json")
    c = report(copies)
    assert copies.returncode == 0, copies.stdout
    assert c["unanswered"] == 0 and c["sent"] == 20 * r["sent"]
    replayed = {l["mac"] for l in fleet.rack.leases() if l["mac"].startswith("02:10:00:00:10:")}
    assert len(replayed) == 20


def test_replay_reports_what_goes_unanswered(fleet):
    path = os.path.join(CORPUS, "pxe", "ipxe-boot.pcap")
    if not os.path.exists(path):
        pytest.skip(f"corpus capture {path} not present")
    fleet.rack.kill()
    result = fleet.replay(path, "--timeout", "1", "--json")
    r = report(result)
    assert result.returncode == 1
    assert r["unanswered"] == r["sent"] > 0
    assert all(p["result"] == "unanswered" for p in r["problems"])
    assert {p["proto"] for p in r["problems"]} == {"dhcp", "tftp", "http"}


def test_record_captures_the_racks_traffic_and_the_recording_replays(fleet):
    recording = os.path.join(fleet.workdir, "rack.pcap")
    recorder = fleet.lab.spawn(fleet.lab.a, RACKPLANE, "pcap", "record", "--interface", "ra", "--output", recording,
                               "--filter", "udp port 67", "--count", "40", "--duration", "60")
    # Ten DORAs are forty DHCP packets on the rack's link: the recorder stops by itself.
    time.sleep(1)   # the recorder opens its capture before the traffic starts
    result = fleet.loadgen("--count", "10", "--first-mac", "02:00:00:00:06:00", "--stages", "dhcp")
    assert result.returncode == 0, result.stdout
    assert recorder.wait(timeout=60) == 0
    decoded = [json.loads(line) for line in run(RACKPLANE, "pcap", "decode", recording).stdout.splitlines()]
    assert len(decoded) == 40 and all(d["proto"] == "dhcp" for d in decoded)
    assert {d["msg_type"] for d in decoded} == {1, 2, 3, 5}
    replayed = fleet.replay(recording, "--first-mac", "02:20:00:00:00:01", "--json")
    r = report(replayed)
    assert replayed.returncode == 0 and r["protocols"]["dhcp"]["answered"] == 20


def test_record_refuses_a_missing_interface():
    result = subprocess.run([RACKPLANE, "pcap", "record", "--interface", "rp-no-such-if", "--output", "/tmp/x.pcap",
                             "--duration", "1"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "rp-no-such-if" in result.stderr
