#!/usr/bin/env python3
"""sushy-tools' Redfish emulator (fake driver: no libvirt) with basic auth and, optionally,
HTTPS, for the redfish driver's tests.

    redfish_peer.py --port P --user U --password W --dir DIR [--cert C --key K]

Writes DIR/emulator.conf and DIR/htpasswd (bcrypt), then runs the emulator in this process.
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
main.main()
