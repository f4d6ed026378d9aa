"""The rack's DNS server against real clients and a real peer, in network namespaces.

dig (bind9-dnsutils) and kdig (knot-dnsutils) ask for every record type, NXDOMAIN and NODATA,
over UDP and TCP, with and without EDNS, and get truncation right; NSD 4.6 serves the same zone
(transferred from the rack with AXFR) and every answer is compared record by record; names
outside the zones are forwarded to an upstream NSD for allowed clients only, and cached; a
dhclient's host name shows up in the zones; every DNS packet of the corpus sent as a query
leaves the rack serving. Only 198.18.0.0/15, only namespaces made here.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time

import pytest

from netlab import Lab, RackProcess, run

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "../../../shared/corpus/tcpdump")
RACK = "198.18.0.1"
CLIENT = "198.18.0.2"
STRANGER = "198.18.0.3"  # a second client address, outside the access lists
NSD_PORT = 5300

DNS_SITE = """\
domain: maas.test
upstream_dns: [198.18.0.2]
subnets:
  - cidr: 198.18.0.0/24
    gateway: 198.18.0.1
    dns_servers: [198.18.0.1]
    pools: [{start: 198.18.0.100, end: 198.18.0.250}]
    reserved: [{start: 198.18.0.1, end: 198.18.0.20}]
  - cidr: 198.18.5.64/26
machines:
  - {hostname: node01, mac: "52:54:00:00:00:01", ip: 198.18.0.21}
  - {hostname: node02, mac: "52:54:00:00:00:02", ip: 198.18.5.70}
records:
  - {name: www, type: A, value: 198.18.0.10}
  - {name: www, type: AAAA, value: "2001:db8::10"}
  - {name: alias, type: CNAME, value: www}
  - {name: chain, type: CNAME, value: alias}
  - {name: dangling, type: CNAME, value: nothere}
  - {name: "@", type: MX, value: "10 mail"}
  - {name: mail, type: A, value: 198.18.0.11}
  - {name: "@", type: TXT, value: '"v=spf1 -all" "second string"'}
  - {name: _http._tcp, type: SRV, value: "0 5 80 www"}
  - {name: "*.wild", type: A, value: 198.18.0.12}
  - {name: sub, type: NS, value: ns1.sub}
  - {name: ns1.sub, type: A, value: 198.18.0.13}
  - {name: a.b.c, type: TXT, value: deep}
  - {name: big, type: TXT, value: "%s"}
dns:
  nameserver_address: 198.18.0.1
  allow_recursion: [198.18.0.2/32]
  allow_transfer: [198.18.0.2/32]
  rate_limit: 0
""" % ("x" * 700)


def dig(lab: Lab, *args: str, server: str = RACK, port: int = 53, tool: str = "dig") -> str:
    return lab.exec_b(tool, f"@{server}", "-p", str(port), *args, check=False, timeout=30).stdout


def answer_lines(text: str) -> list[str]:
    """dig +noall +answer style lines, whitespace normalised."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip() and not line.startswith(";")]


def status(text: str) -> str:
    for line in text.splitlines():
        if "status:" in line:
            return line.split("status:")[1].split(",")[0].split(";")[0].strip()
    return ""


def flags(text: str) -> set[str]:
    for line in text.splitlines():
        if line.startswith(";; flags:"):
            return set(line.split(":")[1].split(";")[0].split())
    return set()


@pytest.fixture(scope="module")
def lab():
    lab = Lab("dns")
    run("ip", "-n", lab.b, "addr", "add", f"{CLIENT}/24", "dev", "cb")
    run("ip", "-n", lab.b, "addr", "add", f"{STRANGER}/24", "dev", "cb")
    yield lab
    lab.close()


def start_nsd(lab: Lab, ns: str, workdir: str, zones: dict[str, str], address: str) -> subprocess.Popen:
    """NSD as peers.md starts it by hand, serving `zones` (name -> zone file text)."""
    # xfrdir: NSD's transfer directory (default /tmp/nsd-xfr-PID) goes with the test's own.
    os.makedirs(os.path.join(workdir, "xfr"), exist_ok=True)
    conf = ["server:", f"  ip-address: {address}", "  server-count: 1", '  username: ""', '  database: ""',
            f"  pidfile: {workdir}/nsd.pid", f"  xfrdfile: {workdir}/xfrd.state", f"  zonelistfile: {workdir}/zone.list",
            f"  xfrdir: {workdir}/xfr",
            f"  logfile: {workdir}/nsd.log", "  verbosity: 1", "remote-control:", "  control-enable: no"]
    for name, text in zones.items():
        path = os.path.join(workdir, name + ".zone")
        with open(path, "w") as f:
            f.write(text)
        conf += ["zone:", f"  name: {name}", f"  zonefile: {path}"]
    with open(os.path.join(workdir, "nsd.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")
    log = open(os.path.join(workdir, "nsd.out"), "w")
    process = lab.spawn(ns, "nsd", "-d", "-c", os.path.join(workdir, "nsd.conf"), stdout=log, stderr=subprocess.STDOUT)
    host, _, port = address.partition("@")
    deadline = time.time() + 15
    while time.time() < deadline:
        probe = run("ip", "netns", "exec", ns, "dig", f"@{host}", "-p", port or "53", "+short", "+time=1", "+tries=1",
                    next(iter(zones)), "SOA", check=False).stdout
        if probe.strip():
            return process
        assert process.poll() is None, open(os.path.join(workdir, "nsd.out")).read()
        time.sleep(0.2)
    raise RuntimeError("nsd did not start")


@pytest.fixture(scope="module")
def upstream(lab, tmp_path_factory):
    """An NSD in namespace B, the rack's upstream_dns, authoritative for upstream.test."""
    zone = """$TTL 120
upstream.test. IN SOA ns.upstream.test. hostmaster.upstream.test. 1 3600 600 604800 30
upstream.test. IN NS ns.upstream.test.
ns.upstream.test. IN A 198.18.0.2
host.upstream.test. IN A 198.18.7.7
"""
    return start_nsd(lab, lab.b, str(tmp_path_factory.mktemp("upstream")), {"upstream.test": zone}, f"{CLIENT}@53")


@pytest.fixture(scope="module")
def rack(lab, upstream, tmp_path_factory):
    rack = RackProcess(lab, str(tmp_path_factory.mktemp("rack")), site=DNS_SITE)
    rack.start()
    return rack


ANSWERS = [
    ("www.maas.test", "A", ["www.maas.test. 300 IN A 198.18.0.10"]),
    ("www.maas.test", "AAAA", ["www.maas.test. 300 IN AAAA 2001:db8::10"]),
    ("maas.test", "MX", ["maas.test. 300 IN MX 10 mail.maas.test."]),
    ("maas.test", "TXT", ['maas.test. 300 IN TXT "v=spf1 -all" "second string"']),
    ("_http._tcp.maas.test", "SRV", ["_http._tcp.maas.test. 300 IN SRV 0 5 80 www.maas.test."]),
    ("maas.test", "NS", ["maas.test. 300 IN NS ns.maas.test."]),
    ("ns.maas.test", "A", ["ns.maas.test. 300 IN A 198.18.0.1"]),
    ("node01.maas.test", "A", ["node01.maas.test. 300 IN A 198.18.0.21"]),
    ("21.0.18.198.in-addr.arpa", "PTR", ["21.0.18.198.in-addr.arpa. 300 IN PTR node01.maas.test."]),
    ("70.5.18.198.in-addr.arpa", "PTR", ["70.5.18.198.in-addr.arpa. 300 IN CNAME 70.64-26.5.18.198.in-addr.arpa.",
                                         "70.64-26.5.18.198.in-addr.arpa. 300 IN PTR node02.maas.test."]),
    ("chain.maas.test", "A", ["chain.maas.test. 300 IN CNAME alias.maas.test.", "alias.maas.test. 300 IN CNAME www.maas.test.",
                              "www.maas.test. 300 IN A 198.18.0.10"]),
    ("Some.Wild.maas.test", "A", ["Some.Wild.maas.test. 300 IN A 198.18.0.12"]),
]


@pytest.mark.parametrize("tool", ["dig", "kdig"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_dig_and_kdig_get_every_record_type(lab, rack, tool, transport):
    for name, rtype, expected in ANSWERS:
        args = ["+noall", "+answer", name, rtype]
        if transport == "tcp":
            args.append("+tcp")
        got = answer_lines(dig(lab, *args, tool=tool))
        if tool == "kdig":  # kdig prints names in lower case
            got, expected = [line.lower() for line in got], [line.lower() for line in expected]
        assert got == expected, f"{tool} {transport} {name} {rtype}: {got}"


def test_nxdomain_and_nodata_carry_the_soa(lab, rack):
    nx = dig(lab, "nope.maas.test", "A")
    assert status(nx) == "NXDOMAIN" and "aa" in flags(nx)
    assert "maas.test. 60 IN SOA ns.maas.test. hostmaster.maas.test." in " ".join(nx.split())
    nodata = dig(lab, "www.maas.test", "TXT")
    assert status(nodata) == "NOERROR" and "ANSWER: 0" in nodata and "AUTHORITY: 1" in nodata
    ent = dig(lab, "b.c.maas.test", "A")
    assert status(ent) == "NOERROR" and "ANSWER: 0" in ent


def test_edns_badvers_and_case_are_honoured(lab, rack):
    edns = dig(lab, "www.maas.test", "+bufsize=4096")
    assert "udp: 1232" in edns
    plain = dig(lab, "www.maas.test", "+noedns")
    assert "OPT PSEUDOSECTION" not in plain and status(plain) == "NOERROR"
    bad = dig(lab, "www.maas.test", "+edns=1", "+noednsneg")
    assert status(bad) == "BADVERS"
    assert "WwW.MaAs.TeSt. 300 IN A 198.18.0.10" in " ".join(dig(lab, "WwW.MaAs.TeSt", "A").split())


def test_truncation_then_tcp(lab, rack):
    cut = dig(lab, "big.maas.test", "TXT", "+noedns", "+ignore")
    assert "tc" in flags(cut) and "ANSWER: 0" in cut
    # dig retries over TCP on its own and gets the whole answer.
    whole = dig(lab, "big.maas.test", "TXT", "+noedns")
    assert "tc" not in flags(whole) and "ANSWER: 1" in whole
    kdig = dig(lab, "big.maas.test", "TXT", "+tcp", tool="kdig")
    assert "ANSWER: 1" in kdig


def test_tcp_pipelined_queries_on_one_connection(lab, rack):
    names = [f"node01.maas.test", "www.maas.test", "mail.maas.test", "nope.maas.test"] * 5
    job = "\n".join([
        "import socket, struct, sys",
        "s = socket.create_connection(('198.18.0.1', 53), timeout=5)",
        "out = b''",
        "for i, name in enumerate(sys.argv[1:]):",
        "    q = struct.pack('!HHHHHH', i, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0' + struct.pack('!HH', 1, 1)",
        "    out += struct.pack('!H', len(q)) + q",
        "s.sendall(out)",
        "buf = b''",
        "ids = []",
        "while len(ids) < len(sys.argv) - 1:",
        "    chunk = s.recv(65536)",
        "    if not chunk: break",
        "    buf += chunk",
        "    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack('!H', buf[:2])[0]:",
        "        n = struct.unpack('!H', buf[:2])[0]; m = buf[2:2 + n]; buf = buf[2 + n:]",
        "        ids.append((struct.unpack('!H', m[:2])[0], m[3] & 15))",
        "print(ids)",
    ])
    out = lab.exec_b("python3", "-c", job, *names).stdout
    ids = eval(out)
    assert [i for i, _ in ids] == list(range(len(names)))
    assert [rcode for _, rcode in ids] == [0, 0, 0, 3] * 5


def test_axfr_only_for_allowed_clients(lab, rack):
    allowed = dig(lab, "maas.test", "AXFR", "+nocookie")
    lines = answer_lines(allowed)
    assert lines[0].startswith("maas.test. 300 IN SOA") and lines[-1] == lines[0]
    assert "www.maas.test. 300 IN A 198.18.0.10" in lines
    refused = dig(lab, "maas.test", "AXFR", "-b", STRANGER)
    assert "Transfer failed" in refused or "REFUSED" in refused


QUESTIONS = [
    ("www.maas.test", "A"), ("www.maas.test", "AAAA"), ("www.maas.test", "TXT"), ("WWW.maas.TEST", "A"),
    ("maas.test", "SOA"), ("maas.test", "NS"), ("maas.test", "MX"), ("maas.test", "TXT"), ("mail.maas.test", "A"),
    ("_http._tcp.maas.test", "SRV"), ("alias.maas.test", "A"), ("alias.maas.test", "AAAA"), ("alias.maas.test", "CNAME"),
    ("chain.maas.test", "A"), ("chain.maas.test", "MX"), ("dangling.maas.test", "A"), ("nope.maas.test", "A"),
    ("deep.nope.maas.test", "TXT"), ("a.b.c.maas.test", "TXT"), ("b.c.maas.test", "A"), ("c.maas.test", "TXT"),
    ("x.wild.maas.test", "A"), ("x.wild.maas.test", "AAAA"), ("y.x.wild.maas.test", "A"), ("wild.maas.test", "A"),
    ("sub.maas.test", "A"), ("host.sub.maas.test", "A"), ("node01.maas.test", "A"), ("node02.maas.test", "A"),
    ("ns.maas.test", "A"), ("node01.maas.test", "MX"),
]


def section(text: str, name: str) -> list[str]:
    """The records of one section of dig's full output, sorted, the SOA serial blanked."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith(f";; {name} SECTION:"):
            inside = True
            continue
        if inside and (not line.strip() or line.startswith(";;")):
            break
        if inside:
            fields = line.split()
            if len(fields) > 6 and fields[3] == "SOA":
                fields[6] = "SERIAL"
            lines.append(" ".join(fields))
    return sorted(lines)


def test_answers_match_nsd_record_by_record(lab, rack, tmp_path):
    # NSD serves the rack's own zone, as the rack transfers it.
    zone = "\n".join(answer_lines(dig(lab, "maas.test", "AXFR", "+nocookie"))[:-1]) + "\n"
    start_nsd(lab, lab.a, str(tmp_path / "nsd"), {"maas.test": zone}, f"{RACK}@{NSD_PORT}")
    compared = 0
    for name, rtype in QUESTIONS:
        ours = dig(lab, "+norec", "+nocookie", name, rtype)
        theirs = dig(lab, "+norec", "+nocookie", name, rtype, port=NSD_PORT)
        assert status(ours) == status(theirs), f"{name} {rtype}:\n{ours}\n{theirs}"
        assert ("aa" in flags(ours)) == ("aa" in flags(theirs)), f"{name} {rtype} AA"
        assert section(ours, "ANSWER") == section(theirs, "ANSWER"), f"{name} {rtype}:\n{ours}\n{theirs}"
        if status(ours) == "NXDOMAIN" or "ANSWER: 0" in ours:
            assert section(ours, "AUTHORITY") == section(theirs, "AUTHORITY"), f"{name} {rtype}:\n{ours}\n{theirs}"
        compared += 1
    assert compared == len(QUESTIONS)


def test_forwarding_for_allowed_clients_with_a_cache(lab, rack):
    first = dig(lab, "host.upstream.test", "A")
    assert status(first) == "NOERROR" and "ra" in flags(first)
    assert "host.upstream.test. 120 IN A 198.18.7.7" in " ".join(first.split())
    hits = lab.metric("rackplane_dns_cache_hits_total")
    second = dig(lab, "HOST.upstream.test", "A")
    assert "198.18.7.7" in second and status(second) == "NOERROR"
    assert lab.metric("rackplane_dns_cache_hits_total") == hits + 1
    nx = dig(lab, "missing.upstream.test", "A")
    assert status(nx) == "NXDOMAIN"
    refused = dig(lab, "host.upstream.test", "A", "-b", STRANGER)
    assert status(refused) == "REFUSED" and "ra" not in flags(refused)


def test_a_dhcp_clients_host_name_is_published(lab, rack, tmp_path):
    lab.set_client_mac("52:54:00:00:77:07")
    conf = tmp_path / "dhclient.conf"
    conf.write_text('send host-name "Client_7.example.com";\n')
    leases = tmp_path / "dhclient.leases"
    result = lab.exec_b("timeout", "30", "dhclient", "-1", "-sf", "/bin/true", "-cf", str(conf), "-lf", str(leases),
                        "-pf", str(tmp_path / "dhclient.pid"), "cb", check=False)
    text = leases.read_text()
    address = text.split("fixed-address ")[1].split(";")[0]
    deadline = time.time() + 20
    got = ""
    while time.time() < deadline:
        got = dig(lab, "+short", "client-7.maas.test", "A")
        if got.strip():
            break
        time.sleep(0.5)
    assert got.strip() == address, result.stderr + rack.log_text()
    reverse = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
    assert dig(lab, "+short", reverse, "PTR").strip() == "client-7.maas.test."


def corpus_dns_payloads() -> list[bytes]:
    payloads = []
    for name in sorted(os.listdir(CORPUS)):
        if not name.endswith(".pcap"):
            continue
        out = run("tshark", "-r", os.path.join(CORPUS, name), "-Y", "dns", "-T", "fields", "-e", "udp.payload",
                  "-e", "tcp.payload", check=False).stdout
        for line in out.splitlines():
            for field in line.split("\t"):
                if field.strip():
                    data = bytes.fromhex(field.split(",")[0])
                    # TCP payloads start with the two-byte length; send the message itself.
                    if len(data) > 2 and struct.unpack("!H", data[:2])[0] == len(data) - 2:
                        data = data[2:]
                    payloads.append(data)
    return payloads


def test_corpus_packets_as_queries_never_crash_it(lab, rack):
    payloads = corpus_dns_payloads()
    assert len(payloads) > 50
    job = "\n".join([
        "import socket, struct, sys",
        "payloads = [bytes.fromhex(h) for h in sys.stdin.read().split()]",
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(0.3)",
        "answered = 0",
        "for p in payloads:",
        "    u.sendto(p, ('198.18.0.1', 53))",
        "    try:",
        "        u.recv(65535); answered += 1",
        "    except socket.timeout:",
        "        pass",
        "t = socket.create_connection(('198.18.0.1', 53), timeout=5)",
        "for p in payloads:",
        "    t.sendall(struct.pack('!H', len(p)) + p)",
        "t.close()",
        "print(answered)",
    ])
    out = lab.exec_b("python3", "-c", job, input=" ".join(p.hex() for p in payloads), timeout=120)
    answered = int(out.stdout.strip())
    assert answered > 0
    assert rack.process.poll() is None, rack.log_text()
    assert answer_lines(dig(lab, "+noall", "+answer", "www.maas.test", "A")) == ["www.maas.test. 300 IN A 198.18.0.10"]
    metrics = lab.metrics()
    assert 'rackplane_dns_dropped_total{reason="response"}' in metrics
    assert lab.metric('rackplane_dns_dropped_total{reason="response"}') > 0


def test_malformed_queries_are_answered_formerr_and_counted(lab, rack):
    job = "\n".join([
        "import socket",
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)",
        "u.sendto(bytes.fromhex('abcd0100000200000000000003777777046d616173047465737400'), ('198.18.0.1', 53))",
        "r = u.recv(512); print(r[:2].hex(), r[3] & 15)",
        "u.sendto(b'\\x01\\x02\\x03', ('198.18.0.1', 53))",
        "u.settimeout(0.5)",
        "try:\n    u.recv(512); print('answered')\nexcept socket.timeout:\n    print('dropped')",
    ])
    out = lab.exec_b("python3", "-c", job).stdout.split("\n")
    assert out[0] == "abcd 1"
    assert out[1] == "dropped"
    assert lab.metric('rackplane_dns_format_errors_total{reason="question_count"}') >= 1
    assert lab.metric('rackplane_dns_dropped_total{reason="short"}') >= 1
