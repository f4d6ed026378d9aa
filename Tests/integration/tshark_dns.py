"""Compare one DNS message from `rackplane pcap decode` with tshark's view of the same frame.

`compare(ours, layers)` takes one JSON object of our output and a frame's `_source.layers` from
`tshark -T json --no-duplicate-keys`, and returns human-readable mismatches (empty when they
agree) for every field tshark decodes: header flags, counts, first question, answers
(name/type/ttl/data) and the OPT record's UDP size and option codes.

Known, documented differences are not reported as mismatches:
- tshark omits `aa`, `ra` and `rcode` in queries; they are compared only when present.
- Names with `.`, `\\`, space or bytes outside printable ASCII inside a label: we escape them
  RFC 4343 style (`\\.`, `\\\\`, `\\DDD`), tshark does not. Answers/qnames whose tshark text
  contains such characters are compared loosely (see `_name_equal`).
- When our decode reports `error`, fields we could not reach are not reported missing.
"""

from __future__ import annotations

# tshark RDATA fields per type and how to build our presentation form from them.
_SIMPLE_DATA = {1: "dns.a", 28: "dns.aaaa", 2: "dns.ns", 5: "dns.cname", 12: "dns.ptr.domain_name"}


def _int(value) -> int | None:
    """tshark numbers are strings, decimal or 0x-hex; ours are ints."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return None


def _bool(value) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value) not in ("0", "False", "false", "")


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _unescape_ours(text: str) -> str:
    """Our RFC 4343 escapes back to raw characters (bytes as latin-1), for loose comparison."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            if text[i + 1 : i + 4].isdigit() and len(text[i + 1 : i + 4]) == 3:
                out.append(chr(int(text[i + 1 : i + 4])))
                i += 4
                continue
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _raw_bytes(ours: str) -> bytes:
    """Our RFC 4343 text back to the label bytes ('.' separators kept as '.')."""
    out, i = bytearray(), 0
    while i < len(ours):
        c = ours[i]
        if c == "\\" and i + 1 < len(ours):
            digits = ours[i + 1 : i + 4]
            if len(digits) == 3 and digits.isdigit():
                out.append(int(digits))
                i += 4
                continue
            out += ours[i + 1].encode("utf-8")
            i += 2
            continue
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


def _tshark_style(raw: bytes) -> str:
    """How tshark 4.0 shows name bytes: valid UTF-8 as is, control bytes as \\DDD."""
    text = raw.decode("utf-8", errors="surrogateescape")
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append("\\%03d" % (code - 0xDC00))
        elif code < 0x20 or code == 0x7F:
            out.append("\\%03d" % code)
        else:
            out.append(ch)
    return "".join(out)


def _name_equal(ours: str | None, theirs: str | None) -> bool:
    if ours == theirs:
        return True
    if ours is None or theirs is None:
        return False
    # tshark leaves '.', '\\' and UTF-8 unescaped, so a label holding '.' is ambiguous there;
    # compare our text rendered the way tshark renders it.
    return _tshark_style(_raw_bytes(ours)) == theirs


def _txt_strings(ours: str) -> list[str] | None:
    """Our TXT form ("a" "b") back to strings decoded as tshark does (UTF-8, U+FFFD)."""
    strings, i = [], 0
    while i < len(ours):
        if ours[i] == " ":
            i += 1
            continue
        if ours[i] != '"':
            return None
        j, raw = i + 1, bytearray()
        while j < len(ours) and ours[j] != '"':
            if ours[j] == "\\" and j + 1 < len(ours):
                digits = ours[j + 1 : j + 4]
                if len(digits) == 3 and digits.isdigit():
                    raw.append(int(digits))
                    j += 4
                    continue
                raw += ours[j + 1].encode("utf-8")
                j += 2
                continue
            raw += ours[j].encode("utf-8")
            j += 1
        strings.append(bytes(raw).decode("utf-8", errors="replace"))
        i = j + 1
    return strings


def _data_equal(rtype: int | None, ours: str | None, rr: dict) -> bool:
    if rtype == 16:
        return ours is not None and _txt_strings(ours) == [str(x) for x in _as_list(rr.get("dns.txt"))]
    theirs = _tshark_data(rr)
    if theirs is None:
        return True
    if rtype in (2, 5, 12):
        return _name_equal(ours, theirs)
    return ours == theirs


def _txt_string(s: str) -> str:
    out = []
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code < 0x100:
            out.append("\\%03d" % code)
        else:
            # tshark shows invalid UTF-8 as U+FFFD and valid UTF-8 as characters: bytes are lost.
            out.append("\\%03d" % 0xFF)
    return '"' + "".join(out) + '"'


def _tshark_data(rr: dict) -> str | None:
    """Our presentation form of an RR's data, built from tshark's fields; None if tshark
    decoded the type but we keep it opaque (then nothing is compared)."""
    rtype = _int(rr.get("dns.resp.type"))
    if rtype in _SIMPLE_DATA:
        return rr.get(_SIMPLE_DATA[rtype])
    if rtype == 15:
        return f'{rr.get("dns.mx.preference")} {rr.get("dns.mx.mail_exchange")}'
    if rtype == 6:
        keys = ("dns.soa.mname", "dns.soa.rname", "dns.soa.serial_number", "dns.soa.refresh_interval",
                "dns.soa.retry_interval", "dns.soa.expire_limit", "dns.soa.minimum_ttl")
        return " ".join(str(rr.get(k)) for k in keys)
    if rtype == 33:
        return f'{rr.get("dns.srv.priority")} {rr.get("dns.srv.weight")} {rr.get("dns.srv.port")} {rr.get("dns.srv.target")}'
    if rtype == 16:
        return " ".join(_txt_string(s) for s in _as_list(rr.get("dns.txt")))
    if "dns.data" in rr:
        return rr["dns.data"]
    if _int(rr.get("dns.resp.len")) == 0:
        return ""
    return None


def _tshark_rr_name(rr: dict) -> str | None:
    if "dns.resp.name" in rr:
        return rr["dns.resp.name"]
    # SRV owners are split into service, proto and name.
    parts = [rr.get("dns.srv.service"), rr.get("dns.srv.proto"), rr.get("dns.srv.name")]
    if all(p is not None for p in parts):
        return ".".join(parts)
    return None


def _flatten_rrs(section) -> list[dict]:
    """tshark's section object is keyed by a summary; with --no-duplicate-keys equal summaries
    become lists. Insertion order survives per key only, so answers are matched as a multiset."""
    out = []
    if not isinstance(section, dict):
        return out
    for value in section.values():
        for rr in _as_list(value):
            if isinstance(rr, dict):
                out.append(rr)
    return out


def _first_question(dns: dict) -> dict | None:
    queries = dns.get("Queries")
    if not isinstance(queries, dict):
        return None
    for value in queries.values():
        for q in _as_list(value):
            if isinstance(q, dict):
                return q
    return None


def _dns_layer(layers: dict) -> dict | None:
    dns = layers.get("dns")
    if isinstance(dns, list):  # several DNS messages in one TCP segment: take the first
        dns = dns[0] if dns else None
    return dns if isinstance(dns, dict) else None


def compare(ours: dict, layers: dict) -> list[str]:
    """Mismatches between our decode of one DNS message and tshark's, as readable lines."""
    problems: list[str] = []
    dns = _dns_layer(layers)
    if dns is None:
        return ["tshark has no dns layer in this frame"]
    had_error = "error" in ours

    def check(name: str, mine, theirs, equal=lambda a, b: a == b):
        if theirs is None:
            return
        if mine is None:
            if not had_error:
                problems.append(f"{name}: missing in ours, tshark has {theirs!r}")
            return
        if not equal(mine, theirs):
            problems.append(f"{name}: ours {mine!r}, tshark {theirs!r}")

    flags = dns.get("dns.flags_tree", {})
    check("id", _int(ours.get("id")), _int(dns.get("dns.id")))
    check("qr", _bool(ours.get("qr")), _bool(flags.get("dns.flags.response")))
    check("opcode", _int(ours.get("opcode")), _int(flags.get("dns.flags.opcode")))
    check("aa", _bool(ours.get("aa")), _bool(flags.get("dns.flags.authoritative")))
    check("tc", _bool(ours.get("tc")), _bool(flags.get("dns.flags.truncated")))
    check("rd", _bool(ours.get("rd")), _bool(flags.get("dns.flags.recdesired")))
    check("ra", _bool(ours.get("ra")), _bool(flags.get("dns.flags.recavail")))
    check("rcode", _int(ours.get("rcode")), _int(flags.get("dns.flags.rcode")))
    check("an_count", _int(ours.get("an_count")), _int(dns.get("dns.count.answers")))
    check("ns_count", _int(ours.get("ns_count")), _int(dns.get("dns.count.auth_rr")))
    check("ar_count", _int(ours.get("ar_count")), _int(dns.get("dns.count.add_rr")))

    question = _first_question(dns)
    if question is not None:
        check("qname", ours.get("qname"), question.get("dns.qry.name"), _name_equal)
        check("qtype", _int(ours.get("qtype")), _int(question.get("dns.qry.type")))
        check("qclass", _int(ours.get("qclass")), _int(question.get("dns.qry.class")))

    # Answers: every tshark answer must be in ours and vice versa, as a multiset.
    theirs = _flatten_rrs(dns.get("Answers"))
    mine = list(ours.get("answers") or [])
    if theirs or mine:
        if len(mine) != len(theirs) and not (had_error and len(mine) < len(theirs)):
            problems.append(f"answers: ours has {len(mine)}, tshark {len(theirs)}")
        unmatched = list(range(len(mine)))
        for rr in theirs:
            t_name = _tshark_rr_name(rr)
            t_type = _int(rr.get("dns.resp.type"))
            t_ttl = _int(rr.get("dns.resp.ttl"))
            t_data = _tshark_data(rr)
            found = None
            for i in unmatched:
                a = mine[i]
                if (_name_equal(a.get("name"), t_name) and _int(a.get("type")) == t_type
                        and _int(a.get("ttl")) == t_ttl
                        and _data_equal(t_type, a.get("data"), rr)):
                    found = i
                    break
            if found is not None:
                unmatched.remove(found)
                continue
            if had_error:
                continue
            near = [mine[i] for i in unmatched if _int(mine[i].get("type")) == t_type]
            problems.append(
                f"answer {t_name} type {t_type} ttl {t_ttl} data {t_data!r}: not in ours"
                + (f" (ours of that type: {near})" if near else ""))
        for i in unmatched:
            if len(theirs) > 0 or not had_error:
                problems.append(f"answer in ours but not tshark: {mine[i]}")

    # EDNS: the OPT record in the additional section.
    opt = None
    for rr in _flatten_rrs(dns.get("Additional records")):
        if _int(rr.get("dns.resp.type")) == 41:
            opt = rr
            break
    if opt is not None:
        check("edns_udp_size", _int(ours.get("edns_udp_size")), _int(opt.get("dns.rr.udp_payload_size")))
        codes = [_int(o.get("dns.opt.code")) for o in _as_list(opt.get("dns.opt")) if isinstance(o, dict)]
        mine_codes = ours.get("edns_options")
        if mine_codes is None:
            if not had_error:
                problems.append(f"edns_options: missing in ours, tshark has {codes}")
        elif [_int(c) for c in mine_codes] != codes:
            problems.append(f"edns_options: ours {mine_codes}, tshark {codes}")
    elif "edns_udp_size" in ours:
        problems.append("edns: ours has an OPT record, tshark none")
    return problems
