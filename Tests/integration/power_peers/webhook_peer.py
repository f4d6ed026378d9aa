#!/usr/bin/env python3
"""A power switch with an HTTP API, for the webhook driver's tests (Swift and pytest).

    webhook_peer.py --token SECRET --ready FILE --log FILE [--cert C --key K]

Listens on 127.0.0.1, an ephemeral port written to --ready once it accepts. Each request goes
to --log as one JSON line (method, path, headers, body). POST /power/{on,off,cycle}/ID needs
"Authorization: Bearer SECRET" (else 401) and sets ID's state; GET /power/status/ID answers
{"state": "on"|"off"} (401 too without the token). Anything else is 404.
"""
import argparse
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--token", required=True)
parser.add_argument("--ready", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--cert")
parser.add_argument("--key")
args = parser.parse_args()

states = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def record(self, body):
        with lock, open(args.log, "a") as log:
            log.write(json.dumps({"method": self.command, "path": self.path,
                                  "headers": {k.lower(): v for k, v in self.headers.items()},
                                  "body": body}) + "\n")

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.record(body)
        if self.headers.get("Authorization") != "Bearer " + args.token:
            return self.answer(401, {"error": "bad token"})
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "power":
            return self.answer(404, {"error": "no such path"})
        _, verb, machine = parts
        with lock:
            if self.command == "GET" and verb == "status":
                return self.answer(200, {"state": states.get(machine, "off")})
            if self.command in ("POST", "PUT") and verb in ("on", "off", "cycle"):
                states[machine] = "off" if verb == "off" else "on"
                return self.answer(200, {"state": states[machine]})
        return self.answer(404, {"error": "no such action"})

    do_GET = do_POST = do_PUT = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if args.cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(args.ready + ".tmp", "w") as ready:
    ready.write(str(server.server_address[1]))
import os
os.rename(args.ready + ".tmp", args.ready)
server.serve_forever()
