"""`rackplane pcap decode` against tshark, on every capture of the shared corpus.

For each capture: our decoder must exit 0 and print valid JSON lines with the common fields;
every frame tshark decodes as DHCP, DNS, TFTP or an HTTP request must appear in our output; and
every field tshark decodes must agree (the per-protocol `tshark_*.py` modules say how). The
deliberately malformed captures must yield `error` fields, never a crash.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest

import tshark_dhcp
import tshark_dns
import tshark_http
import tshark_tftp

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.abspath(os.environ.get("CORPUS", os.path.join(HERE, "../../../shared/corpus")))
RACKPLANE = os.environ.get("RACKPLANE", os.path.join(HERE, "../../.build/debug/rackplane"))

CAPTURES = sorted(glob.glob(os.path.join(CORPUS, "tcpdump", "*.pcap*")) + glob.glob(os.path.join(CORPUS, "pxe", "*.pcap")))
COMPARERS = {"dhcp": tshark_dhcp, "dns": tshark_dns, "tftp": tshark_tftp, "http": tshark_http}
# Crashers of tcpdump itself and compression bombs: every packet of the protocol is malformed.
MALFORMED = {
    "bootp_asan.pcap": "dhcp", "bootp_asan-2.pcap": "dhcp", "tftp-heapoverflow.pcap": "tftp",
    "dns-badlabel.pcap": "dns", "dns-zlip-1.pcap": "dns", "dns-zlip-2.pcap": "dns", "dns-zlip-3.pcap": "dns",
    "dns_fwdptr.pcap": "dns",
}
# tshark decodes DNS on 8053 over UDP by heuristics but not over TCP; tell it, as we know.
TSHARK_EXTRA = {"dns_tcp_8053.pcap": ["-d", "tcp.port==8053,dns"]}


def decode(capture: str) -> list[dict]:
    run = subprocess.run([RACKPLANE, "pcap", "decode", capture], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"rackplane exited {run.returncode}: {run.stderr}"
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    for line in lines:
        for key in ("frame", "proto", "src", "dst", "sport", "dport"):
            assert key in line, f"{key} missing in {line}"
        assert line["proto"] in COMPARERS
    return lines


def tshark_frames(capture: str) -> dict[int, dict]:
    extra = TSHARK_EXTRA.get(os.path.basename(capture), [])
    run = subprocess.run(["tshark", "-r", capture, "-T", "json", "--no-duplicate-keys", *extra],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    frames = json.loads(run.stdout or "[]")
    return {int(f["_source"]["layers"]["frame"]["frame.number"]): f["_source"]["layers"] for f in frames}


def tshark_protocols(layers: dict) -> set[str]:
    found = {p for p in ("dhcp", "dns", "tftp") if p in layers}
    http = layers.get("http")
    for h in http if isinstance(http, list) else [http] if http else []:
        if isinstance(h, dict) and "http.request.method" in set(_keys(h)):
            found.add("http")
    return found


def _keys(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from _keys(v)


@pytest.mark.parametrize("capture", CAPTURES, ids=os.path.basename)
def test_decode_agrees_with_tshark(capture):
    ours = decode(capture)
    frames = tshark_frames(capture)
    problems = []
    by_frame: dict[int, list[dict]] = {}
    for line in ours:
        by_frame.setdefault(line["frame"], []).append(line)
    for number, lines in by_frame.items():
        layers = frames.get(number)
        if layers is None:
            problems.append(f"frame {number}: tshark has no such frame")
            continue
        for index, line in enumerate(lines):
            proto = line["proto"]
            view = layers
            # Several DNS messages in one TCP segment: tshark lists them in order.
            if isinstance(layers.get(proto), list):
                view = dict(layers)
                view[proto] = layers[proto][min(index, len(layers[proto]) - 1)]
            if proto not in tshark_protocols(layers) and proto not in layers:
                if "error" in line:
                    continue  # we flag a payload tshark does not take as this protocol at all
                problems.append(f"frame {number}: ours says {proto}, tshark does not")
                continue
            for problem in COMPARERS[proto].compare(line, view):
                problems.append(f"frame {number} ({proto}): {problem}")
    for number, layers in frames.items():
        for proto in tshark_protocols(layers):
            if not any(l["proto"] == proto for l in by_frame.get(number, [])):
                problems.append(f"frame {number}: tshark decodes {proto}, ours printed nothing")
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("name", sorted(MALFORMED), ids=str)
def test_malformed_captures_yield_errors(name):
    capture = os.path.join(CORPUS, "tcpdump", name)
    lines = [l for l in decode(capture) if l["proto"] == MALFORMED[name]]
    assert lines, f"no {MALFORMED[name]} packet decoded from {name}"
    assert any("error" in l for l in lines), f"{name}: malformed packets decoded without error"
