"""Compare one TFTP packet from `rackplane pcap decode` with tshark's view of the same frame.

`compare(ours, layers)` takes one JSON object of our output and a frame's `_source.layers` from
`tshark -T json --no-duplicate-keys`, and returns human-readable mismatches (empty when they
agree) for every field tshark decodes from the packet itself: opcode, request filename and
transfer type (mode), options (name -> value), block, error code and message, and the DATA
payload length.

Known, documented differences are not reported as mismatches:
- tshark adds `tftp.destination_file` / `tftp.request_frame` to DATA, ACK, ERROR and OACK from
  conversation tracking; they are not in the packet, so only a WRQ's destination_file is
  compared.
- tshark reads a packet cut short by the capture's snap length (`_ws.short`) as far as it goes;
  we decode the captured bytes and report `error`. When we report `error`, fields past the
  fault that tshark shows are not reported missing.
"""

from __future__ import annotations


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _int(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return None


def _walk(node, out: list[tuple[str, object]]) -> None:
    """Every (key, leaf value) under `node`, depth first, lists expanded in order."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
                    for v in value:
                        out.append((key, v))
                else:
                    _walk(value, out)
            else:
                out.append((key, value))
    elif isinstance(node, list):
        for item in node:
            _walk(item, out)


def _options(tftp) -> list[tuple[str, str]]:
    """(name, value) pairs in order: each option is a subtree holding tftp.option.name/value."""
    pairs: list[tuple[str, str]] = []

    def visit(node):
        if isinstance(node, dict):
            if "tftp.option.name" in node:
                names = _as_list(node.get("tftp.option.name"))
                values = _as_list(node.get("tftp.option.value"))
                for i, name in enumerate(names):
                    pairs.append((str(name), str(values[i]) if i < len(values) else ""))
                return
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(tftp)
    return pairs


def compare(ours: dict, layers: dict) -> list[str]:
    problems: list[str] = []
    tftp = layers.get("tftp")
    if tftp is None:
        return ["tshark decoded no tftp layer"]
    if isinstance(tftp, list):
        tftp = tftp[0]
    fields: list[tuple[str, object]] = []
    _walk(tftp, fields)

    def first(name: str):
        for key, value in fields:
            if key == name:
                return value
        return None

    ours_error = "error" in ours

    def check(field: str, theirs, ours_key: str, convert=lambda v: v) -> None:
        if theirs is None:
            return
        expected = convert(theirs)
        if ours_key not in ours:
            if not ours_error:
                problems.append(f"{ours_key}: missing, tshark {field}={expected!r}")
            return
        if ours[ours_key] != expected:
            problems.append(f"{ours_key}: ours {ours[ours_key]!r}, tshark {field}={expected!r}")

    opcode = _int(first("tftp.opcode"))
    check("tftp.opcode", opcode, "opcode")

    if opcode == 1:
        check("tftp.source_file", first("tftp.source_file"), "filename", str)
    elif opcode == 2:
        check("tftp.destination_file", first("tftp.destination_file"), "filename", str)
    if opcode in (1, 2):
        check("tftp.type", first("tftp.type"), "mode", str)

    if opcode in (1, 2, 6):
        theirs = _options(tftp)
        if theirs or "options" in ours:
            mine = ours.get("options", {})
            # Ours is a JSON object: a repeated option name keeps one value.
            expected = dict(theirs)
            if mine != expected and not (ours_error and not mine):
                problems.append(f"options: ours {mine!r}, tshark {expected!r}")

    if opcode in (3, 4):
        check("tftp.block", _int(first("tftp.block")), "block")

    if opcode == 5:
        check("tftp.error.code", _int(first("tftp.error.code")), "error_code")
        check("tftp.error.message", first("tftp.error.message"), "error_msg", str)

    if opcode == 3 and not ours_error:
        # The payload length is the UDP payload less the four-byte header; tshark hands the
        # payload to `data` (absent when empty) or to a subdissector, so use the UDP length.
        udp = layers.get("udp")
        if isinstance(udp, list):
            udp = udp[0]
        length = _int(udp.get("udp.length")) if isinstance(udp, dict) else None
        if length is not None:
            expected = length - 8 - 4
            if ours.get("data_len") != expected:
                problems.append(f"data_len: ours {ours.get('data_len')!r}, tshark udp.length-12={expected}")

    malformed = "_ws.malformed" in layers or any(k == "_ws.malformed" for k, _ in fields)
    if malformed and not ours_error:
        problems.append("tshark marks the packet malformed; ours has no error")
    return problems
