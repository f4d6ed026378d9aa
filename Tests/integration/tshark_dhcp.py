"""Compare one DHCP message from `rackplane pcap decode` with tshark's view of the same frame.

`compare(ours, layers)` returns human-readable mismatches (empty when they agree) for every field
tshark decodes: the fixed header, the message type, the option codes in wire order, and the
options the decoder names (55, 60, 77, 93, 50, 54, 51, 12, 82).
"""

from __future__ import annotations


def _walk(node, key):
    """Every value stored under `key` anywhere in tshark's nested layer, in document order."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.extend(v if isinstance(v, list) else [v])
            elif isinstance(v, (dict, list)):
                found.extend(_walk(v, key))
    elif isinstance(node, list):
        for v in node:
            found.extend(_walk(v, key))
    return found


def _first(node, key):
    values = _walk(node, key)
    return values[0] if values else None


def _int(value):
    if value is None:
        return None
    return value if isinstance(value, int) else int(str(value), 0)


def compare(ours: dict, layers: dict) -> list[str]:
    dhcp = layers.get("dhcp")
    if dhcp is None:
        return ["tshark has no dhcp layer"]
    if not isinstance(dhcp, dict):
        # tshark names the protocol but could decode no field (a cut or bogus packet).
        return [] if "error" in ours else [f"tshark could not decode it ({dhcp!r}), ours has no error"]
    problems = []

    def check(name, theirs, mine):
        if theirs is None or mine is None:
            if theirs is not None and mine is None and "error" not in ours:
                problems.append(f"{name}: tshark {theirs!r}, ours missing")
            return
        if theirs != mine:
            problems.append(f"{name}: tshark {theirs!r}, ours {mine!r}")

    check("op", _int(dhcp.get("dhcp.type")), ours.get("op"))
    check("xid", _int(dhcp.get("dhcp.id")), _int(ours.get("xid")))
    check("flags", _int(dhcp.get("dhcp.flags")), ours.get("flags"))
    for field, key in (("ciaddr", "dhcp.ip.client"), ("yiaddr", "dhcp.ip.your"),
                       ("siaddr", "dhcp.ip.server"), ("giaddr", "dhcp.ip.relay")):
        check(field, dhcp.get(key), ours.get(field))
    if dhcp.get("dhcp.hw.mac_addr") is not None:
        check("chaddr", dhcp.get("dhcp.hw.mac_addr"), ours.get("chaddr"))
    # tshark shows "" for an sname/file that is all zeros ("not given").
    for field, key in (("sname", "dhcp.server"), ("file", "dhcp.file")):
        if dhcp.get(key) is not None and field in ours:
            check(field, dhcp.get(key), ours.get(field))
    if "error" in ours:
        return problems

    check("msg_type", _int(_first(dhcp, "dhcp.option.dhcp")), ours.get("msg_type"))
    codes = [int(c) for c in _walk(dhcp, "dhcp.option.type") if int(c) not in (0, 255)]
    check("options", codes, ours.get("options"))
    requested = [int(c) for c in _walk(dhcp, "dhcp.option.request_list_item")]
    if requested:
        check("param_list", requested, ours.get("param_list"))
    check("vendor_class", _first(dhcp, "dhcp.option.vendor_class_id"), ours.get("vendor_class"))
    texts = _walk(dhcp, "dhcp.option.user_class.text")
    data = _walk(dhcp, "dhcp.option.user_class.data")
    if texts:
        check("user_class", texts, ours.get("user_class"))
    elif data:
        as_text = ["".join(chr(int(b, 16)) for b in d.split(":")) for d in data]
        check("user_class", as_text, ours.get("user_class"))
    arch = [int(a) for a in _walk(dhcp, "dhcp.option.client_system_architecture")]
    if arch:
        check("client_arch", arch, ours.get("client_arch"))
    check("requested_ip", _first(dhcp, "dhcp.option.requested_ip_address"), ours.get("requested_ip"))
    check("server_id", _first(dhcp, "dhcp.option.dhcp_server_id"), ours.get("server_id"))
    check("lease_time", _int(_first(dhcp, "dhcp.option.ip_address_lease_time")), ours.get("lease_time"))
    check("hostname", _first(dhcp, "dhcp.option.hostname"), ours.get("hostname"))
    circuit = _first(dhcp, "dhcp.option.agent_information_option.agent_circuit_id")
    if circuit is not None:
        check("relay_circuit_id", circuit.replace(":", ""), ours.get("relay_circuit_id"))
    remote = _first(dhcp, "dhcp.option.agent_information_option.agent_remote_id")
    if remote is not None:
        check("relay_remote_id", remote.replace(":", ""), ours.get("relay_remote_id"))
    return problems
