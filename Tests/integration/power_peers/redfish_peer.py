#!/usr/bin/env python3
"""sushy-tools' Redfish emulator (fake driver: no libvirt) with basic auth and, optionally,
HTTPS, for the redfish driver's tests.

    redfish_peer.py --port P --user U --password W --dir DIR [--cert C --key K]

Writes DIR/emulator.conf and DIR/htpasswd (bcrypt), then runs the emulator in this process.
The emulator has no SessionService, so a small WSGI layer in front adds one: POST
/redfish/v1/SessionService/Sessions {"UserName", "Password"} checks them against the same
htpasswd and answers 201 with X-Auth-Token and Location; a request with a live token is passed
on as the user's basic auth; DELETE on the Location ends the session. Sessions opened and
closed are counted in DIR/sessions (one line per event) for the tests.
"""
import argparse
import os
import sys

import bcrypt

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--user", required=True)
parser.add_argument("--password", required=True)
parser.add_argument("--dir", required=True)
parser.add_argument("--cert")
parser.add_argument("--key")
args = parser.parse_args()

htpasswd = os.path.join(args.dir, "htpasswd")
with open(htpasswd, "w") as f:
    f.write(f"{args.user}:{bcrypt.hashpw(args.password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
config = os.path.join(args.dir, "emulator.conf")
with open(config, "w") as f:
    f.write(f"""
SUSHY_EMULATOR_AUTH_FILE = {htpasswd!r}
SUSHY_EMULATOR_FAKE_DRIVER = True
# The fake driver keeps its systems in SQLite, by default in one directory every emulator on the
# machine shares: each peer gets its own, or one test's power state leaks into the next.
SUSHY_EMULATOR_STATE_DIR = {os.path.join(args.dir, "state")!r}
SUSHY_EMULATOR_FAKE_SYSTEMS = [{{
    'uuid': '27946b59-9e44-4fa7-8e91-f3527a1ef094',
    'name': 'node-1',
    'power_state': 'Off',
    'nics': [{{'mac': '52:54:00:4c:00:01', 'ip': '198.18.0.10'}}],
}}]
""")
argv = [sys.argv[0], "--config", config, "-i", "127.0.0.1", "-p", str(args.port), "--fake"]
if args.cert:
    argv += ["--ssl-certificate", args.cert, "--ssl-key", args.key]
sys.argv = argv
from sushy_tools.emulator import main  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import secrets as token_source  # noqa: E402

SESSIONS = "/redfish/v1/SessionService/Sessions"
live = {}
numbers = iter(range(1, 1 << 30))


def record(line):
    with open(os.path.join(args.dir, "sessions"), "a") as f:
        f.write(line + "\n")


def with_sessions(app):
    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO", "").rstrip("/")
        method = environ["REQUEST_METHOD"]
        if path == SESSIONS and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            except ValueError:
                body = {}
            user, password = body.get("UserName", ""), body.get("Password", "")
            ok = user == args.user and bcrypt.checkpw(password.encode(), open(htpasswd).read().split(":", 1)[1].strip().encode())
            if not ok:
                start_response("401 Unauthorized", [("Content-Type", "application/json")])
                return [b'{"error": {"message": "bad credentials"}}']
            token, number = token_source.token_hex(16), str(next(numbers))
            live[token] = (number, user, password)
            record("open " + number)
            start_response("201 Created", [("Content-Type", "application/json"), ("X-Auth-Token", token),
                                           ("Location", f"{SESSIONS}/{number}")])
            return [json.dumps({"Id": number, "UserName": user}).encode()]
        token = environ.get("HTTP_X_AUTH_TOKEN")
        if token is not None:
            if token not in live:
                start_response("401 Unauthorized", [("Content-Type", "application/json")])
                return [b'{"error": {"message": "no such session"}}']
            number, user, password = live[token]
            if method == "DELETE" and path == f"{SESSIONS}/{number}":
                del live[token]
                record("close " + number)
                start_response("204 No Content", [])
                return [b""]
            environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return app(environ, start_response)
    return wrapped


original_configure = main.app.configure


def configure(*a, **kw):
    original_configure(*a, **kw)
    if not getattr(main.app.wsgi_app, "with_sessions", False):
        main.app.wsgi_app = with_sessions(main.app.wsgi_app)
        main.app.wsgi_app.with_sessions = True


main.app.configure = configure
main.main()
