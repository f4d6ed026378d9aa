"""Compare one HTTP request head from `rackplane pcap decode` with tshark's view of the frame.

`compare(ours, layers)` takes one JSON object of our output and a frame's `_source.layers` from
`tshark -T json --no-duplicate-keys`, and returns human-readable mismatches (empty when they
agree) for every field tshark decodes from a request head: method, request URI, version, every
header line (`http.request.line`, names compared case-insensitively, a repeated header's values
joined with ", " as ours are), the Range value, and tshark's named header fields (`http.host`,
`http.user_agent`, `http.connection`, `http.content_length_header`, ...).

Known, documented differences are not reported as mismatches:
- A frame with several pipelined requests has a list of `http` layers; the one whose method and
  URI match ours is compared.
- tshark's derived fields (`http.request.full_uri`, `http.request_number`, `http.file_data`,
  `http.request.uri_tree`, ...) are not in the head and are not compared.
- Responses (`http.response`) are not ours to decode; a frame holding only a response yields one
  mismatch saying so.
- When our decode reports `error` (a head cut short), headers tshark shows past the cut are not
  reported missing.
"""

from __future__ import annotations

# tshark's named request-header fields and the header each comes from.
_NAMED = {
    "http.host": "host",
    "http.user_agent": "user-agent",
    "http.connection": "connection",
    "http.content_length_header": "content-length",
    "http.content_type": "content-type",
    "http.content_encoding": "content-encoding",
    "http.transfer_encoding": "transfer-encoding",
    "http.accept": "accept",
    "http.accept_encoding": "accept-encoding",
    "http.accept_language": "accept-language",
    "http.referer": "referer",
    "http.cookie": "cookie",
    "http.authorization": "authorization",
    "http.proxy_authorization": "proxy-authorization",
    "http.cache_control": "cache-control",
    "http.upgrade": "upgrade",
    "http.x_forwarded_for": "x-forwarded-for",
    "http.date": "date",
    "http.last_modified": "last-modified",
}

_OWS = " \t"


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _find(node, key: str):
    """The first value of `key` anywhere under `node` (the request line is a nested subtree)."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for value in node.values():
            found = _find(value, key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def _headers(http: dict) -> tuple[list[str], dict[str, str]]:
    """Header names in first-seen order and name -> joined value, from http.request.line."""
    order: list[str] = []
    values: dict[str, list[str]] = {}
    for line in _as_list(http.get("http.request.line")):
        text = str(line)
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        name, sep, value = text.partition(":")
        if not sep:
            continue
        key = name.lower()
        if key not in values:
            order.append(key)
            values[key] = []
        values[key].append(value.strip(_OWS))
    return order, {k: ", ".join(v) for k, v in values.items()}


def _pick(layer, ours: dict) -> dict | None:
    """The http layer describing our request: one with a matching method and URI, else the first
    request."""
    candidates = [h for h in _as_list(layer) if isinstance(h, dict)]
    requests = [h for h in candidates if _find(h, "http.request.method") is not None]
    for h in requests:
        if _find(h, "http.request.method") == ours.get("method") and _find(h, "http.request.uri") == ours.get("target"):
            return h
    return requests[0] if requests else None


def compare(ours: dict, layers: dict) -> list[str]:
    layer = layers.get("http")
    if layer is None:
        return ["tshark decoded no http layer"]
    http = _pick(layer, ours)
    if http is None:
        return ["tshark decoded no HTTP request in this frame (a response or continuation)"]

    problems: list[str] = []
    ours_error = "error" in ours

    for field, key in (("http.request.method", "method"), ("http.request.uri", "target"), ("http.request.version", "version")):
        theirs = _find(http, field)
        if theirs is None:
            continue
        if key not in ours:
            if not ours_error:
                problems.append(f"{key}: missing, tshark {field}={theirs!r}")
        elif ours[key] != theirs:
            problems.append(f"{key}: ours {ours[key]!r}, tshark {field}={theirs!r}")

    order, theirs_headers = _headers(http)
    mine = ours.get("headers", {})
    for name in order:
        if name not in mine:
            if not ours_error:
                problems.append(f"headers[{name!r}]: missing, tshark {theirs_headers[name]!r}")
        elif mine[name] != theirs_headers[name]:
            problems.append(f"headers[{name!r}]: ours {mine[name]!r}, tshark {theirs_headers[name]!r}")
    for name in mine:
        if name not in theirs_headers:
            problems.append(f"headers[{name!r}]: ours {mine[name]!r}, not in tshark's request lines")

    if "range" in theirs_headers or "range" in ours:
        if ours.get("range") != theirs_headers.get("range"):
            problems.append(f"range: ours {ours.get('range')!r}, tshark {theirs_headers.get('range')!r}")

    for field, name in _NAMED.items():
        values = _as_list(http.get(field))
        if not values:
            continue
        expected = ", ".join(str(v).strip(_OWS) for v in values)
        got = mine.get(name)
        if got is None:
            if not ours_error:
                problems.append(f"headers[{name!r}]: missing, tshark {field}={expected!r}")
        elif got != expected:
            problems.append(f"headers[{name!r}]: ours {got!r}, tshark {field}={expected!r}")
    return problems
