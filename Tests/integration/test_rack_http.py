"""The rack's image HTTP server (TCP 5248) against curl and raw sockets in network namespaces.

Namespace A runs `rackplane rack` with a files root made here; namespace B is the client, at
198.18.0.21 — the address node01's reservation holds, so boot configs and the access log name
it. Every test runs on both kernel backends (io_uring, epoll). Only 198.18.0.0/15, only
namespaces made here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import textwrap
import time

import pytest

from netlab import SITE, Lab, RackProcess, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

BASE = "http://198.18.0.1:5248"
CLIENT = "198.18.0.21"
BIG = 32 * 1024 * 1024
SECRET = "rackplane-secret-outside-the-root"


class HTTPRack(RackProcess):
    """The rack with its files root in the work directory and the access log on."""

    def __init__(self, lab: Lab, workdir: str, backend: str):
        self.files = os.path.join(workdir, "files")
        site = SITE.replace("files: /srv/rackplane", f"files: {self.files}")
        super().__init__(lab, workdir, site=site, backend=backend)

    def start(self):
        # RackProcess.start runs netlab.RACKPLANE; point it at a wrapper that adds the flag.
        import netlab

        original = netlab.RACKPLANE
        wrapper = os.path.join(self.workdir, "rackplane-access-log")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec {original} "$@" --access-log\n')
        os.chmod(wrapper, 0o755)
        netlab.RACKPLANE = wrapper
        try:
            super().start()
        finally:
            netlab.RACKPLANE = original


def make_files(root: str, workdir: str) -> dict:
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    big = os.urandom(BIG)
    with open(os.path.join(root, "images", "big.img"), "wb") as f:
        f.write(big)
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello from the files root\n")
    with open(os.path.join(root, "notes.cfg"), "w") as f:
        f.write("a = b\n")
    open(os.path.join(root, "empty"), "w").close()
    with open(os.path.join(workdir, "secret.txt"), "w") as f:
        f.write(SECRET + "\n")
    # Links out of the root, absolute and relative, to a file and to a directory; one inside.
    os.symlink("/etc/passwd", os.path.join(root, "passwd-link"))
    os.symlink("../secret.txt", os.path.join(root, "secret-link"))
    os.symlink(workdir, os.path.join(root, "workdir-link"))
    os.symlink("hello.txt", os.path.join(root, "inside-link"))
    os.mkfifo(os.path.join(root, "fifo"))
    return {"big": hashlib.sha256(big).hexdigest(), "big_bytes": big}


@pytest.fixture(scope="module", params=["io_uring", "epoll"])
def env(request, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp(f"http-{request.param}"))
    lab = Lab("h" + request.param[0])
    try:
        run("ip", "-n", lab.b, "addr", "add", f"{CLIENT}/24", "dev", "cb")
        rack = HTTPRack(lab, workdir, request.param)
        info = make_files(rack.files, workdir)
        rack.start()
        # The route is up once B can reach A.
        deadline = time.time() + 10
        while time.time() < deadline:
            if lab.exec_b("ping", "-c", "1", "-W", "1", "198.18.0.1", check=False).returncode == 0:
                break
        yield {"lab": lab, "rack": rack, "workdir": workdir, **info}
    finally:
        lab.close()


def curl(env, *args, check=True) -> subprocess.CompletedProcess:
    return env["lab"].exec_b("curl", "-s", "-m", "30", *args, check=check, timeout=90)


def status_of(env, *args) -> int:
    return int(curl(env, "-o", "/dev/null", "-w", "%{http_code}", *args).stdout)


def raw(env, payload: bytes, read_until_close=True, expect_responses=0, shutdown=False) -> bytes:
    """Sends `payload` on one connection from B and returns everything read (until the server
    closes, or until `expect_responses` complete responses have arrived)."""
    script = textwrap.dedent(
        """
        import json, socket, sys
        job = json.load(sys.stdin)
        s = socket.create_connection(("198.18.0.1", 5248), timeout=10)
        s.sendall(bytes.fromhex(job["payload"]))
        data = b""
        def complete(data, n):
            count, at = 0, 0
            while count < n:
                end = data.find(b"\\r\\n\\r\\n", at)
                if end < 0:
                    return False
                head = data[at:end].decode("latin-1")
                length = 0
                for line in head.split("\\r\\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if head.startswith("HTTP/1.1 304") or " HEAD " in head:
                    length = 0
                if len(data) < end + 4 + length:
                    return False
                at = end + 4 + length
                count += 1
            return True
        try:
            while True:
                if job["n"] and complete(data, job["n"]):
                    break
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError) as e:
            data += ("\\n<" + type(e).__name__ + ">").encode()
        sys.stdout.write(data.hex())
        """
    )
    job = json.dumps({"payload": payload.hex(), "n": expect_responses})
    out = env["lab"].exec_b("python3", "-c", script, input=job, timeout=60)
    return bytes.fromhex(out.stdout)


def headers_of(text: str) -> dict:
    fields = {}
    for line in text.splitlines()[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    return fields


# MARK: Files


def test_get_32mib_byte_identical(env):
    out = os.path.join(env["workdir"], "big.out")
    env["lab"].exec_b("curl", "-s", "-f", "-m", "120", "-o", out, f"{BASE}/images/big.img", timeout=150)
    with open(out, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == env["big"]
    os.unlink(out)


def test_head(env):
    result = curl(env, "-I", f"{BASE}/images/big.img")
    # (curl's output is read as text: CRLF arrives as "\n".)
    assert result.stdout.startswith("HTTP/1.1 200 OK\n")
    fields = headers_of(result.stdout)
    assert fields["content-length"] == str(BIG)
    assert fields["content-type"] == "application/octet-stream"
    assert fields["accept-ranges"] == "bytes"
    assert re.fullmatch(r'"[0-9a-f]+-2000000-[0-9a-f]+"', fields["etag"])
    assert fields["last-modified"].endswith(" GMT") and fields["date"].endswith(" GMT")
    # HEAD sends no body: the next bytes on the connection would be the next response.
    data = raw(env, b"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.endswith(b"\r\n\r\nhello from the files root\n")


def test_content_types(env):
    assert headers_of(curl(env, "-I", f"{BASE}/notes.cfg").stdout)["content-type"] == "text/plain"
    assert headers_of(curl(env, "-I", f"{BASE}/hello.txt").stdout)["content-type"] == "text/plain"


def test_empty_file(env):
    result = curl(env, "-i", f"{BASE}/empty")
    assert result.stdout.startswith("HTTP/1.1 200 OK") and "Content-Length: 0\n" in result.stdout


def test_single_range(env):
    big = env["big_bytes"]
    out = os.path.join(env["workdir"], "range.out")
    head = curl(env, "-r", "1000-1999", "-D", "-", "-o", out, f"{BASE}/images/big.img").stdout
    assert head.startswith("HTTP/1.1 206 Partial Content")
    assert headers_of(head)["content-range"] == f"bytes 1000-1999/{BIG}"
    assert open(out, "rb").read() == big[1000:2000]
    # A range reaching the end, across the file's last byte.
    head = curl(env, "-r", f"{BIG - 10}-{BIG + 100}", "-D", "-", "-o", out, f"{BASE}/images/big.img").stdout
    assert headers_of(head)["content-range"] == f"bytes {BIG - 10}-{BIG - 1}/{BIG}"
    assert open(out, "rb").read() == big[-10:]
    os.unlink(out)


def test_suffix_range(env):
    out = os.path.join(env["workdir"], "suffix.out")
    head = curl(env, "-r", "-500", "-D", "-", "-o", out, f"{BASE}/images/big.img").stdout
    assert head.startswith("HTTP/1.1 206")
    assert headers_of(head)["content-range"] == f"bytes {BIG - 500}-{BIG - 1}/{BIG}"
    assert open(out, "rb").read() == env["big_bytes"][-500:]
    os.unlink(out)


def test_unsatisfiable_range_is_416(env):
    head = curl(env, "-r", f"{BIG}-", "-D", "-", "-o", "/dev/null", f"{BASE}/images/big.img").stdout
    assert head.startswith("HTTP/1.1 416 Range Not Satisfiable")
    assert headers_of(head)["content-range"] == f"bytes */{BIG}"


def test_multiple_ranges_are_a_whole_200(env):
    head = curl(env, "-r", "0-9,20-25", "-D", "-", "-o", "/dev/null", f"{BASE}/hello.txt").stdout
    assert head.startswith("HTTP/1.1 200 OK") and headers_of(head)["content-length"] == "26"


def test_if_none_match_is_304(env):
    etag = headers_of(curl(env, "-I", f"{BASE}/images/big.img").stdout)["etag"]
    result = curl(env, "-D", "-", "-o", "/dev/null", "-H", f"If-None-Match: {etag}", f"{BASE}/images/big.img")
    assert result.stdout.startswith("HTTP/1.1 304 Not Modified")
    assert headers_of(result.stdout)["etag"] == etag
    assert status_of(env, "-H", 'If-None-Match: "nope"', f"{BASE}/hello.txt") == 200


def test_if_modified_since_is_304(env):
    modified = headers_of(curl(env, "-I", f"{BASE}/hello.txt").stdout)["last-modified"]
    assert status_of(env, "-H", f"If-Modified-Since: {modified}", f"{BASE}/hello.txt") == 304
    assert status_of(env, "-H", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT", f"{BASE}/hello.txt") == 200


# MARK: Connections


def test_keep_alive_reuses_the_connection(env):
    result = curl(env, "-v", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects}\n",
                  f"{BASE}/hello.txt", f"{BASE}/images/big.img")
    assert result.stdout.split() == ["1", "0"], result.stderr
    assert "Re-using existing connection" in result.stderr


def test_pipelining(env):
    requests = (b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /images/big.img HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n"
                b"GET /notes.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = raw(env, requests)
    first, rest = data.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert rest.startswith(b"hello from the files root\nHTTP/1.1 206 Partial Content\r\n")
    second_body = rest.split(b"\r\n\r\n", 1)[1]
    assert second_body[:100] == env["big_bytes"][:100]
    assert second_body[100:].startswith(b"HTTP/1.1 200 OK")
    assert data.endswith(b"\r\n\r\na = b\n")  # and the server closed after Connection: close


def test_http10_closes_unless_keep_alive(env):
    data = raw(env, b"GET /hello.txt HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK") and b"Connection: close\r\n" in data
    assert data.endswith(b"hello from the files root\n")
    data = raw(env, b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /notes.cfg HTTP/1.0\r\n\r\n")
    assert data.count(b"HTTP/1.1 200 OK") == 2 and data.endswith(b"a = b\n")


def test_head_split_across_packets(env):
    script = textwrap.dedent(
        """
        import socket, sys, time
        s = socket.create_connection(("198.18.0.1", 5248), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in [b"GET /hel", b"lo.txt HTTP/1.1\\r\\nHo", b"st: x\\r\\nConnection: close\\r\\n", b"\\r\\n"]:
            s.sendall(piece)
            time.sleep(0.1)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        sys.stdout.write(data.decode())
        """
    )
    out = env["lab"].exec_b("python3", "-c", script).stdout
    assert out.startswith("HTTP/1.1 200 OK") and out.endswith("hello from the files root\n")


def test_slow_head_gets_408(env):
    # The head must be whole within 10 s of its first byte, however slowly it trickles.
    script = textwrap.dedent(
        """
        import socket, sys, time
        s = socket.create_connection(("198.18.0.1", 5248), timeout=30)
        start = time.time()
        s.sendall(b"GET /hello.txt HTTP/1.1\\r\\nHost: x\\r\\n")
        data = b""
        try:
            while time.time() - start < 25:
                s.sendall(b"X: y\\r\\n")
                s.settimeout(1)
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                data += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
        sys.stdout.write(f"{time.time() - start:.1f} " + data.decode(errors="replace"))
        """
    )
    out = env["lab"].exec_b("python3", "-c", script, timeout=60).stdout
    elapsed, _, response = out.partition(" ")
    assert response.startswith("HTTP/1.1 408 Request Timeout"), out[:200]
    assert 9 <= float(elapsed) <= 15


# MARK: Refusals


def test_oversized_head_is_431(env):
    payload = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n"
    data = raw(env, payload)
    assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), data[:200]


def test_other_methods_are_405(env):
    result = curl(env, "-X", "POST", "-D", "-", "-o", "/dev/null", f"{BASE}/hello.txt")
    assert result.stdout.startswith("HTTP/1.1 405 Method Not Allowed")
    assert headers_of(result.stdout)["allow"] == "GET, HEAD"
    assert status_of(env, "-X", "DELETE", f"{BASE}/hello.txt") == 405


def test_bad_requests_are_400(env):
    assert raw(env, b"GET /hello.txt HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request")  # no Host
    assert raw(env, b"GET /hello.txt HTTP/1.1\nHost: x\n\n").startswith(b"HTTP/1.1 400")  # bare LF
    assert raw(env, b"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw(env, b"GET /hello.txt HTTP/2.0\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 505")


def test_not_found(env):
    assert status_of(env, f"{BASE}/no/such/file") == 404
    assert status_of(env, f"{BASE}/") == 404
    assert status_of(env, f"{BASE}/images") == 404  # a directory


@pytest.mark.parametrize("target", ["/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E%2Fetc%2Fpasswd",
                                    "/images/../../secret.txt", "/..%5c..%5csecret.txt", "/..%2fsecret.txt"])
def test_path_traversal_is_403(env, target):
    result = curl(env, "--path-as-is", "-D", "-", f"{BASE}{target}")
    assert result.stdout.startswith("HTTP/1.1 403 Forbidden"), result.stdout[:200]
    assert "root:" not in result.stdout and SECRET not in result.stdout


def test_absolute_path_stays_beneath_the_root(env):
    # "/etc/passwd" is etc/passwd inside the root: not there.
    result = curl(env, "-D", "-", f"{BASE}/etc/passwd")
    assert result.stdout.startswith("HTTP/1.1 404") and "root:" not in result.stdout


@pytest.mark.parametrize("target", ["/passwd-link", "/secret-link", "/workdir-link/secret.txt"])
def test_symlink_out_of_the_root_is_refused(env, target):
    result = curl(env, "-D", "-", f"{BASE}{target}")
    assert result.stdout.split(" ")[1] in ("403", "404"), result.stdout[:200]
    assert "root:" not in result.stdout and SECRET not in result.stdout


def test_symlink_inside_the_root_is_served(env):
    assert curl(env, f"{BASE}/inside-link").stdout == "hello from the files root\n"


def test_fifo_is_refused_without_blocking(env):
    assert status_of(env, f"{BASE}/fifo") == 403
    assert status_of(env, f"{BASE}/hello.txt") == 200


# MARK: Boot configs, log, metrics


def test_ipxe_cfg_rendered_for_the_reserved_machine(env):
    result = curl(env, "-D", "-", f"{BASE}/ipxe.cfg")
    head, _, body = result.stdout.partition("\n\n")
    assert head.startswith("HTTP/1.1 200 OK")
    assert headers_of(head)["content-type"] == "text/plain"
    assert int(headers_of(head)["content-length"]) == len(body.encode())
    assert body.startswith("#!ipxe")
    assert "rackplane.purpose=commission" in body and "52:54:00:00:00:01" in body
    assert "http://198.18.0.1:5248/images/vmlinuz" in body
    # By MAC too, and HEAD gives the length without the body.
    by_mac = curl(env, f"{BASE}/ipxe.cfg-52:54:00:00:00:01").stdout
    assert by_mac == body
    assert headers_of(curl(env, "-I", f"{BASE}/ipxe.cfg").stdout)["content-length"] == str(len(body.encode()))
    # An unknown MAC enlists.
    assert "rackplane.purpose=enlist" in curl(env, f"{BASE}/ipxe.cfg-52:54:00:00:00:99").stdout
    # The other loaders' names are served over HTTP too.
    assert "rackplane.purpose=commission" in curl(env, f"{BASE}/pxelinux.cfg/01-52-54-00-00-00-01").stdout
    assert "rackplane.purpose=commission" in curl(env, f"{BASE}/grub/grub.cfg").stdout


def test_access_log_names_the_machine(env):
    curl(env, "-o", "/dev/null", f"{BASE}/hello.txt?from=log-test")
    deadline = time.time() + 5
    pattern = re.compile(r'http: 198\.18\.0\.21:\d+ node01 "GET /hello\.txt\?from=log-test" 200 26')
    while time.time() < deadline and not pattern.search(env["rack"].log_text()):
        time.sleep(0.1)
    assert pattern.search(env["rack"].log_text()), env["rack"].log_text()[-2000:]


def test_metrics_count_requests_and_bytes(env):
    before = env["lab"].metric('rackplane_http_requests_total{code="200"}')
    sent = env["lab"].metric('rackplane_http_sent_bytes_total{part="body"}')
    curl(env, "-o", "/dev/null", f"{BASE}/hello.txt")
    assert env["lab"].metric('rackplane_http_requests_total{code="200"}') == before + 1
    assert env["lab"].metric('rackplane_http_sent_bytes_total{part="body"}') == sent + 26
    assert env["lab"].metric('rackplane_http_requests_total{code="403"}') > 0
