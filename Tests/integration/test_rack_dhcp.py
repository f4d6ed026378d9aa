"""The standalone rack's DHCP server against real clients in network namespaces.

dhclient (isc-dhcp-client), busybox udhcpc and dhcpcd; perfdhcp in relay mode; the DHCP packets
of the shared corpus's real PXE boots; malformed packets; and kill -9 under load. Only
198.18.0.0/15, only namespaces made here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from netlab import RACKPLANE, SITE, Lab, RackProcess, run

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.abspath(os.environ.get("CORPUS", os.path.join(HERE, "../../../shared/corpus")))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@pytest.fixture
def lab(request):
    lab = Lab(request.node.name[-6:].replace("[", "").replace("]", "").replace("-", "")[:4] or "t", relay=True)
    yield lab
    lab.close()


@pytest.fixture
def rack(lab, tmp_path):
    rack = RackProcess(lab, str(tmp_path))
    rack.start()
    yield rack


def probe(lab: Lab, requests: list[bytes], wait=1.5) -> list[list[dict]]:
    job = json.dumps({"interface": "cb", "requests": [r.hex() for r in requests], "wait": wait})
    out = lab.exec_b("python3", os.path.join(HERE, "dhcp_probe.py"), input=job, timeout=120)
    return json.loads(out.stdout)


def corpus_payloads(capture: str, display_filter: str) -> list[bytes]:
    out = run("tshark", "-r", os.path.join(CORPUS, capture), "-Y", display_filter, "-T", "fields", "-e", "udp.payload").stdout
    return [bytes.fromhex(line.split(",")[0]) for line in out.splitlines() if line.strip()]


def test_dhclient_gets_the_reserved_address_and_hostname(lab, rack):
    lab.set_client_mac("52:54:00:00:00:01")
    leases = os.path.join(rack.workdir, "dhclient.leases")
    result = lab.exec_b("timeout", "30", "dhclient", "-1", "-v", "-sf", "/bin/true", "-lf", leases,
                        "-pf", os.path.join(rack.workdir, "dhclient.pid"), "cb", check=False)
    text = open(leases).read()
    assert "fixed-address 198.18.0.21;" in text, result.stderr
    assert 'option host-name "node01";' in text
    assert "option routers 198.18.0.1;" in text
    assert "option domain-name-servers 198.18.0.1;" in text
    assert 'option domain-name "maas.test";' in text
    assert "option dhcp-server-identifier 198.18.0.1;" in text
    assert any(l["address"] == "198.18.0.21" and l["mac"] == "52:54:00:00:00:01" and l["hostname"] == "node01"
               for l in rack.leases())


def test_udhcpc_gets_a_pool_address(lab, rack):
    lab.set_client_mac("52:54:00:00:10:01")
    result = lab.exec_b("timeout", "30", "busybox", "udhcpc", "-i", "cb", "-n", "-q", "-f", "-s", "/bin/true", check=False)
    assert "lease of 198.18.0." in result.stderr + result.stdout, result.stderr
    address = (result.stderr + result.stdout).split("lease of ")[1].split()[0]
    assert 100 <= int(address.split(".")[3]) <= 250
    assert any(l["address"] == address and l["mac"] == "52:54:00:00:10:01" for l in rack.leases())


def test_dhcpcd_gets_a_pool_address_and_configures_it(lab, rack):
    lab.set_client_mac("52:54:00:00:10:02")
    try:
        lab.exec_b("timeout", "40", "dhcpcd", "-4", "-B", "-1", "-t", "30", "--nohook", "resolv.conf", "cb", check=False, timeout=60)
        addresses = lab.exec_b("ip", "-4", "-o", "addr", "show", "dev", "cb").stdout
        configured = [w.split("/")[0] for w in addresses.split() if w.startswith("198.18.0.") and "/24" in w]
        pool = [a for a in configured if 100 <= int(a.split(".")[3]) <= 250]
        assert pool, addresses
        assert any(l["address"] == pool[0] and l["mac"] == "52:54:00:00:10:02" for l in rack.leases())
    finally:
        for f in ("/var/lib/dhcpcd/cb.lease", "/var/lib/dhcpcd/duid"):
            if os.path.exists(f) and f.endswith(".lease"):
                os.unlink(f)


def perfdhcp_exchanges(output: str) -> dict[str, dict[str, int]]:
    """perfdhcp's per-exchange statistics: {"DISCOVER-OFFER": {"sent packets": n, ...}, ...}."""
    sections, current = {}, None
    for line in output.splitlines():
        if line.startswith("***Statistics for:"):
            current = line.split(":", 1)[1].strip(" *")
            sections[current] = {}
        elif current and ":" in line:
            key, value = line.split(":", 1)
            try:
                sections[current][key.strip()] = int(value.strip().split()[0])
            except ValueError:
                pass
    return sections


def test_relay_path_with_perfdhcp(lab, rack, tmp_path):
    # 200 four-way exchanges through a relay at 198.19.0.1. The rack is judged on the wire (a
    # capture in the client namespace): every DISCOVER answered by an OFFER, every REQUEST by
    # an ACK. perfdhcp itself now and then misses a reply that did arrive, so its own count is
    # only held to its drop ratio, and to no rejected or duplicate leases.
    capture = str(tmp_path / "relay.pcap")
    dump = lab.spawn(lab.b, "tcpdump", "-i", "cb", "-w", capture, "-U", "udp port 67")
    time.sleep(1)
    result = lab.exec_b("perfdhcp", "-4", "-l", "198.19.0.1", "-r", "100", "-n", "200", "-R", "200", "-p", "15",
                        "198.18.0.1", check=False, timeout=60)
    time.sleep(2.0)  # let tcpdump drain what the kernel has buffered for it
    os.killpg(dump.pid, signal.SIGINT)
    dump.wait(timeout=10)
    stats = perfdhcp_exchanges(result.stdout)
    assert set(stats) == {"DISCOVER-OFFER", "REQUEST-ACK"}, result.stdout
    for name, exchange in stats.items():
        assert exchange["sent packets"] >= 190, (name, exchange)
        assert exchange["drops"] <= exchange["sent packets"] // 100, (name, exchange)
        assert exchange["rejected leases"] == 0 and exchange["non unique addresses"] == 0, (name, exchange)
    packets = [json.loads(l) for l in run(RACKPLANE, "pcap", "decode", capture).stdout.splitlines()]
    by_type: dict[int, set[tuple[str, str]]] = {}
    for packet in packets:
        by_type.setdefault(packet["msg_type"], set()).add((packet["xid"], packet["chaddr"]))
        if packet["msg_type"] in (2, 5):
            assert packet["src"] == "198.18.0.1" and packet["dst"] == "198.19.0.1" and packet["dport"] == 67
            assert packet["giaddr"] == "198.19.0.1"
    assert len(by_type[1]) >= 190
    assert by_type[1] <= by_type[2], "a DISCOVER went unanswered"
    assert by_type[3] <= by_type[5], "a REQUEST went unanswered"
    acknowledged = {(p["yiaddr"], p["chaddr"]) for p in packets if p["msg_type"] == 5}
    relayed = {(l["address"], l["mac"]) for l in rack.leases() if l["address"].startswith("198.19.")}
    # Every lease acknowledged on the wire is held, and no more are held than were requested.
    # (A capture on a busy machine may miss packets, so the capture bounds from one side only.)
    assert acknowledged <= relayed, f"acknowledged but not held: {sorted(acknowledged - relayed)[:5]}"
    assert len(relayed) <= stats["REQUEST-ACK"]["sent packets"]
    assert len({address for address, _ in relayed}) == len(relayed), "no address held twice"


def test_real_pxe_boots_get_next_server_file_and_pxeclient(lab, rack):
    for capture in ("pxe/ipxe-boot.pcap", "pxe/pxelinux-boot.pcap"):
        requests = corpus_payloads(capture, "udp.dstport == 67 && dhcp.type == 1")
        assert requests
        mac = requests[0][28:34].hex(":")
        lab.set_client_mac(mac)
        for request, replies in zip(requests, probe(lab, requests)):
            assert replies, f"{capture}: no reply to xid {request[4:8].hex()}"
            reply = replies[0]
            options = reply["options"]
            ipxe = b"iPXE" in request
            expected = "http://198.18.0.1:5248/ipxe.cfg" if ipxe else "lpxelinux.0"
            assert reply["siaddr"] == "198.18.0.1"
            assert reply["file"] == expected
            assert bytes.fromhex(options["67"]).decode() == expected
            assert bytes.fromhex(options["60"]).decode() == "PXEClient"
            assert options["53"] in ("02", "05")
            assert reply["eth_destination"] == mac or reply["ip_destination"] == "255.255.255.255"


def test_malformed_packets_are_dropped_counted_and_the_server_keeps_answering(lab, rack):
    valid = corpus_payloads("pxe/ipxe-boot.pcap", "udp.dstport == 67 && dhcp.option.dhcp == 1")[0]
    malformed = corpus_payloads("tcpdump/bootp_asan.pcap", "udp") + corpus_payloads("tcpdump/bootp_asan-2.pcap", "udp")
    truncated = [valid[:n] for n in (0, 1, 20, 235, 239)]
    past_end = bytearray(valid)
    past_end[241] = 250                       # first option's length runs past the datagram
    # Option 52 opens `file` and `sname`; `file` holds another 52 (must not loop), then an
    # option whose length runs past the end of the field.
    overload = bytearray(valid[:240]) + bytes([53, 1, 1, 52, 1, 3, 255])
    overload[108:236] = bytes([52, 1, 3, 12, 200]) + bytes(123)
    repeated_type = bytearray(valid[:240]) + bytes([53, 1, 1, 53, 1, 3, 255])
    bad = malformed + truncated + [bytes(past_end), bytes(overload), bytes(repeated_type)]
    lab.set_client_mac(valid[28:34].hex(":"))
    before = lab.metric('rackplane_dhcp_dropped_total{reason="malformed"}')
    results = probe(lab, bad + [valid], wait=0.5)
    answered = [i for i, r in enumerate(results[:-1]) if r]
    assert not answered, f"malformed packets got replies: {[bad[i][:16].hex() for i in answered]}"
    assert results[-1], "the server stopped answering"
    after = lab.metric('rackplane_dhcp_dropped_total{reason="malformed"}')
    assert after - before >= len(bad) - 2  # the two BOOTREPLY-shaped asan payloads count as not_a_request
    assert rack.process.poll() is None


def test_kill_9_under_load_loses_no_acknowledged_lease(lab, rack, tmp_path):
    capture = str(tmp_path / "wire.pcap")
    dump = lab.spawn(lab.a, "tcpdump", "-i", "ra", "-w", capture, "-U", "udp port 67 or udp port 68")
    time.sleep(1.0)
    load = lab.spawn(lab.b, "perfdhcp", "-4", "-l", "198.19.0.1", "-r", "300", "-p", "8", "-R", "100000", "198.18.0.1")
    time.sleep(3.0)
    rack.kill(signal.SIGKILL)
    rack.start()
    load.wait(timeout=60)
    time.sleep(2.0)  # let tcpdump drain its buffer
    os.killpg(dump.pid, signal.SIGINT)
    dump.wait(timeout=10)
    decoded = run(RACKPLANE, "pcap", "decode", capture).stdout
    acks = [json.loads(l) for l in decoded.splitlines() if '"msg_type":5' in l]
    assert len(acks) > 300, "the load did not run"
    held = {l["address"]: l["mac"] for l in rack.leases()}
    holders: dict[str, set[str]] = {}
    for ack in acks:
        holders.setdefault(ack["yiaddr"], set()).add(ack["chaddr"])
    lost = [(a, m) for a, macs in holders.items() for m in macs if held.get(a) is None]
    assert not lost, f"{len(lost)} acknowledged leases missing after the crash, e.g. {lost[:5]}"
    doubled = {a: m for a, m in holders.items() if len(m) > 1}
    assert not doubled, f"addresses acknowledged to two clients: {list(doubled.items())[:5]}"


def test_reload_swaps_tables_and_a_bad_file_keeps_the_old_ones(lab, rack):
    generation = lab.metric("rackplane_tables_generation")
    site = SITE.replace("machines:\n", 'machines:\n  - {hostname: node02, mac: "52:54:00:00:00:02", ip: 198.18.0.22}\n')
    with open(rack.site_path, "w") as f:
        f.write(site)
    os.killpg(rack.process.pid, signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline and lab.metric("rackplane_tables_generation") == generation:
        time.sleep(0.1)
    reloaded = lab.metric("rackplane_tables_generation")
    assert reloaded > generation
    lab.set_client_mac("52:54:00:00:00:02")
    leases = os.path.join(rack.workdir, "node02.leases")
    lab.exec_b("timeout", "30", "dhclient", "-1", "-sf", "/bin/true", "-lf", leases, "-pf",
               os.path.join(rack.workdir, "node02.pid"), "cb", check=False)
    assert "fixed-address 198.18.0.22;" in open(leases).read()
    # A broken file: the error is logged with file and line, the tables in service stay.
    with open(rack.site_path, "w") as f:
        f.write(site.replace("cidr: 198.18.0.0/24", "cidr: 198.18.0.0/33"))
    time.sleep(2.5)  # the file watcher polls once a second
    assert lab.metric("rackplane_tables_generation") == reloaded
    assert "site.yaml:" in rack.log_text() and "stays in service" in rack.log_text()


def test_a_bad_site_file_refuses_to_start(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(SITE.replace("pools: [{start: 198.18.0.100", "pools: [{start: 198.18.1.100"))
    result = run(RACKPLANE, "rack", "--site", str(site), "--state-dir", str(tmp_path / "state"), "--dhcp-port", "16767",
                 "--metrics-port", "16768", check=False, timeout=30)
    assert result.returncode != 0
    assert "site.yaml:10:" in result.stderr and "pool" in result.stderr, result.stderr


def test_tables_compile_check_and_show(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(SITE)
    snapshot = tmp_path / "tables.bin"
    run(RACKPLANE, "tables", "compile", str(site), "-o", str(snapshot), "--generation", "42")
    ok = run(RACKPLANE, "tables", "check", str(snapshot))
    assert "ok, generation 42" in ok.stdout
    shown = run(RACKPLANE, "tables", "show", str(snapshot), "--reservations").stdout
    assert "198.18.0.0/24" in shown and "node01" in shown and "lpxelinux.0" in shown
    data = bytearray(snapshot.read_bytes())
    for damage, expected in ((data[:100], "truncated"), (data[:-8], "truncated"),
                             (data[:8] + b"\x63" + data[9:], "wrong_version"),
                             (data[:-16] + bytes([data[-16] ^ 1]) + data[-15:], "checksum_mismatch"),
                             (b"XX" + data[2:], "bad_magic")):
        broken = tmp_path / "broken.bin"
        broken.write_bytes(bytes(damage))
        result = run(RACKPLANE, "tables", "check", str(broken), check=False)
        assert result.returncode != 0
        assert expected in result.stderr, (expected, result.stderr)


def test_tables_compile_for_a_rack_writes_a_staged_file_with_lease_names(tmp_path):
    # What a standalone rack runs in a child process: the file is written unsynced at the path
    # given, to be checked and persisted by the rack; named leases come in a file of their own.
    site = tmp_path / "site.yaml"
    site.write_text(SITE)
    names = tmp_path / "names"
    names.write_text("198.18.0.150 " + "laptop 7\n".encode().hex() + "\n198.18.0.151 " + b"pc-8".hex() + "\n")
    staged = tmp_path / "tables.snapshot.tmp.1"
    plain = tmp_path / "plain.bin"
    run(RACKPLANE, "tables", "compile", str(site), "-o", str(staged), "--generation", "7", "--staged",
        "--lease-names", str(names))
    run(RACKPLANE, "tables", "compile", str(site), "-o", str(plain), "--generation", "7")
    assert "ok, generation 7" in run(RACKPLANE, "tables", "check", str(staged)).stdout
    # Both leases' names (the first sanitised) add records to the zones.
    assert staged.stat().st_size > plain.stat().st_size
    names.write_text("198.18.0.150 laptop\n")
    result = run(RACKPLANE, "tables", "compile", str(site), "-o", str(tmp_path / "other"), "--staged",
                 "--lease-names", str(names), check=False)
    assert result.returncode != 0
    assert "line 1 is not" in result.stderr, result.stderr
    assert not (tmp_path / "other").exists()


def test_a_running_rack_shows_its_io_uring_in_proc(lab, rack):
    import glob

    pid = rack.process.pid  # `ip netns exec` execs the rack in place: same PID
    links = [os.readlink(fd) for fd in glob.glob(f"/proc/{pid}/fd/*")]
    rings = [i for i, link in enumerate(links) if link == "anon_inode:[io_uring]"]
    assert rings, links
    infos = [open(path).read() for path in glob.glob(f"/proc/{pid}/fdinfo/*")]
    assert any("SqMask:" in info and "CqMask:" in info for info in infos)
    assert "io_uring backend" in rack.log_text()


def test_the_rack_runs_unprivileged_with_two_capabilities(lab, tmp_path):
    # As `nobody` with only CAP_NET_BIND_SERVICE (port 67) and CAP_NET_RAW (SO_BINDTODEVICE and
    # link-layer replies): a client still gets its lease, answered by link-layer unicast.
    import shutil
    import stat
    import tempfile

    home = tempfile.mkdtemp(prefix="rackplane-unprivileged-")
    try:
        os.chmod(home, 0o755)
        binary = os.path.join(home, "rackplane")
        shutil.copy(RACKPLANE, binary)
        os.chmod(binary, 0o755)
        site = os.path.join(home, "site.yaml")
        with open(site, "w") as f:
            f.write(SITE)
        os.chmod(site, 0o644)
        state = os.path.join(home, "state")
        os.mkdir(state)
        os.chown(state, 65534, 65534)
        log = open(os.path.join(home, "rack.log"), "w")
        caps = "+net_bind_service,+net_raw"
        process = lab.spawn(lab.a, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            f"--inh-caps={caps}", f"--ambient-caps={caps}", "--bounding-set=-all," + caps.replace("+", "+"),
                            binary, "rack", "--site", site, "--interface", "ra", "--state-dir", state,
                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        text = ""
        while time.time() < deadline and "serving with" not in text:
            assert process.poll() is None, open(log.name).read()
            time.sleep(0.1)
            text = open(log.name).read()
        assert "serving with" in text, text
        status = open(f"/proc/{process.pid}/status").read()
        assert "\nUid:\t65534" in status
        effective = int([l for l in status.splitlines() if l.startswith("CapEff:")][0].split()[1], 16)
        assert effective == (1 << 10) | (1 << 13), hex(effective)   # NET_BIND_SERVICE | NET_RAW
        lab.set_client_mac("52:54:00:00:20:01")
        result = lab.exec_b("timeout", "30", "busybox", "udhcpc", "-i", "cb", "-n", "-q", "-f", "-s", "/bin/true", check=False)
        assert "lease of 198.18.0." in result.stderr + result.stdout, open(log.name).read()
        assert "broadcasting instead" not in open(log.name).read(), "link-layer replies need only CAP_NET_RAW"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_client_with_option_61_keeps_its_address_across_a_restart(lab, rack):
    # Found in review: leases were journaled without the client identifier, so after a restart
    # a client that sends option 61 (udhcpc, iPXE) no longer matched its own lease and got a
    # new address while the old one stayed held.
    lab.set_client_mac("52:54:00:00:30:01")

    def lease():
        result = lab.exec_b("timeout", "30", "busybox", "udhcpc", "-i", "cb", "-n", "-q", "-f", "-s", "/bin/true", check=False)
        text = result.stderr + result.stdout
        assert "lease of " in text, text
        return text.split("lease of ")[1].split()[0]

    first = lease()
    rack.kill(signal.SIGTERM)
    rack.start()
    assert lease() == first
