"""Runs inside the client namespace: sends raw DHCP request payloads from port 68 to the
broadcast address on one interface and collects the DHCP replies seen on that interface with
an AF_PACKET socket (so link-layer unicast replies to addresses not configured are seen too).

Input (stdin, JSON): {"interface": "cb", "requests": ["hex", ...], "wait": 2.0}
Output (stdout, JSON): a list, per request, of the replies with the same xid:
  {"op", "yiaddr", "siaddr", "giaddr", "file", "options": {code: hex}}
"""

import json
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def parse_dhcp(payload: bytes):
    if len(payload) < 240 or payload[236:240] != b"\x63\x82\x53\x63":
        return None
    options, i = {}, 240
    while i < len(payload):
        code = payload[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= len(payload):
            break
        length = payload[i + 1]
        options[str(code)] = options.get(str(code), "") + payload[i + 2:i + 2 + length].hex()
        i += 2 + length
    return {
        "op": payload[0],
        "xid": struct.unpack("!I", payload[4:8])[0],
        "flags": struct.unpack("!H", payload[10:12])[0],
        "yiaddr": socket.inet_ntoa(payload[16:20]),
        "siaddr": socket.inet_ntoa(payload[20:24]),
        "giaddr": socket.inet_ntoa(payload[24:28]),
        "file": payload[108:236].split(b"\0", 1)[0].decode("latin-1"),
        "options": options,
    }


def main():
    job = json.load(sys.stdin)
    interface = job["interface"]
    sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sniffer.bind((interface, 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    sender.bind(("0.0.0.0", 68))
    results = []
    for request_hex in job["requests"]:
        request = bytes.fromhex(request_hex)
        xid = struct.unpack("!I", request[4:8])[0] if len(request) >= 8 else None
        sender.sendto(request, ("255.255.255.255", 67))
        replies, deadline = [], time.time() + job.get("wait", 1.0)
        while time.time() < deadline:
            ready, _, _ = select.select([sniffer], [], [], max(0.0, deadline - time.time()))
            if not ready:
                break
            frame = sniffer.recv(65535)
            if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
                continue
            ihl = (frame[14] & 0x0F) * 4
            udp = 14 + ihl
            sport, dport = struct.unpack("!HH", frame[udp:udp + 4])
            if sport != 67 or dport != 68:
                continue
            parsed = parse_dhcp(frame[udp + 8:])
            if parsed and parsed["op"] == 2 and parsed["xid"] == xid:
                parsed["ip_destination"] = socket.inet_ntoa(frame[30:34])
                parsed["eth_destination"] = frame[0:6].hex(":")
                replies.append(parsed)
                if job.get("first_only", True):
                    break
        results.append(replies)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
