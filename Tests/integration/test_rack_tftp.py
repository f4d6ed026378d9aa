"""The rack's TFTP server against real clients in network namespaces.

tftp-hpa, atftp and curl fetch a 32 MiB file (65537 blocks of 512: block numbers roll over)
byte-identical; a windowsize-16 client (RFC 7440, written here: no packaged client has the
option) does too; path traversal gets an ERROR and nothing from outside the root; boot configs
are rendered per machine; 200 transfers at once all complete; stalled transfers expire and
release everything. Only 198.18.0.0/15, only namespaces made here.

This file is also the client: `python3 test_rack_tftp.py '<json job>'` runs jobs in namespace B.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = "198.18.0.1"
BIG = 32 * 1024 * 1024


# ---------------------------------------------------------------- the client (runs in namespace B)

class TFTPError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(f"ERROR {code}: {message}")
        self.code = code
        self.message = message


def fetch(name: bytes, server=SERVER, port=69, blksize: int | None = None, windowsize: int | None = None,
          tsize=True, mode=b"octet", timeout=3.0, retries=5, raw_request: bytes | None = None):
    """Reads `name` (RFC 1350, 2347-2349, 7440). Returns (data, oack options, server TID).

    Windowed receive (RFC 7440): DATA in order is kept; after `windowsize` blocks, on the last
    (short) block, or on a gap, the last in-order block is acknowledged. Duplicates are ignored.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        if raw_request is None:
            request = struct.pack("!H", 1) + name + b"\0" + mode + b"\0"
            if tsize:
                request += b"tsize\0" + b"0\0"
            if blksize:
                request += b"blksize\0" + str(blksize).encode() + b"\0"
            if windowsize:
                request += b"windowsize\0" + str(windowsize).encode() + b"\0"
        else:
            request = raw_request
        s.sendto(request, (server, port))
        tid = None
        options: dict[str, str] = {}
        size = 512
        window = 1
        chunks: list[bytes] = []
        expected = 1       # the next block, as a 64-bit counter
        in_window = 0
        last_ack_sent = None
        misses = 0
        while True:
            try:
                packet, source = s.recvfrom(70000)
            except socket.timeout:
                misses += 1
                if misses > retries:
                    raise TimeoutError(f"no reply after {retries} timeouts at block {expected}")
                if tid is None:
                    s.sendto(request, (server, port))
                else:
                    s.sendto(struct.pack("!HH", 4, (expected - 1) & 0xFFFF), tid)
                continue
            if tid is None:
                tid = source
            elif source != tid:
                continue
            misses = 0
            opcode = struct.unpack("!H", packet[:2])[0]
            if opcode == 5:
                code = struct.unpack("!H", packet[2:4])[0]
                raise TFTPError(code, packet[4:].rstrip(b"\0").decode(errors="replace"))
            if opcode == 6:
                fields = packet[2:].split(b"\0")[:-1]
                options = {fields[i].decode().lower(): fields[i + 1].decode() for i in range(0, len(fields) - 1, 2)}
                size = int(options.get("blksize", 512))
                window = int(options.get("windowsize", 1))
                s.sendto(struct.pack("!HH", 4, 0), tid)
                continue
            if opcode != 3:
                raise AssertionError(f"unexpected opcode {opcode}")
            block = struct.unpack("!H", packet[2:4])[0]
            payload = packet[4:]
            if block == expected & 0xFFFF:
                chunks.append(payload)
                expected += 1
                in_window += 1
                if len(payload) < size:
                    s.sendto(struct.pack("!HH", 4, block), tid)
                    return b"".join(chunks), options, tid
                if in_window >= window:
                    s.sendto(struct.pack("!HH", 4, block), tid)
                    last_ack_sent = block
                    in_window = 0
            elif (expected - 1) & 0xFFFF != block:
                # A gap: acknowledge the last block in order; the server starts a new window
                # after it (RFC 7440 §4). Once per gap, not per stray block.
                ack = (expected - 1) & 0xFFFF
                if last_ack_sent != ack or in_window > 0:
                    s.sendto(struct.pack("!HH", 4, ack), tid)
                    last_ack_sent = ack
                    in_window = 0
    finally:
        s.close()


def request_only(packet: bytes, server=SERVER, port=69, timeout=3.0):
    """Sends `packet` to port 69 and returns the first reply (or None)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(packet, (server, port))
        try:
            reply, source = s.recvfrom(70000)
            return reply, source
        except socket.timeout:
            return None, None
    finally:
        s.close()


def rrq(name: bytes, mode=b"octet", **options) -> bytes:
    packet = struct.pack("!H", 1) + name + b"\0" + mode + b"\0"
    for key, value in options.items():
        packet += key.encode() + b"\0" + str(value).encode() + b"\0"
    return packet


def outcome(job: dict) -> dict:
    """Runs one fetch; the result as JSON-friendly values."""
    try:
        data, options, tid = fetch(bytes.fromhex(job["name"]), blksize=job.get("blksize"),
                                   windowsize=job.get("windowsize"), tsize=job.get("tsize", True),
                                   mode=job.get("mode", "octet").encode(),
                                   raw_request=bytes.fromhex(job["raw"]) if "raw" in job else None)
        return {"ok": True, "sha256": hashlib.sha256(data).hexdigest(), "length": len(data), "options": options,
                "data": data.hex() if len(data) <= 65536 else None, "tid": list(tid)}
    except TFTPError as e:
        return {"ok": False, "error": e.code, "message": e.message}
    except TimeoutError as e:
        return {"ok": False, "error": None, "message": str(e)}


def unknown_tid_job() -> dict:
    """Starts a transfer, pokes its port from a second socket, then finishes the transfer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.settimeout(3)
    s.sendto(rrq(b"small.bin"), (SERVER, 69))
    chunks = []
    packet, tid = s.recvfrom(70000)
    assert packet[:2] == b"\0\3", packet[:4]
    stranger.sendto(struct.pack("!HH", 4, 1), tid)
    reply, source = stranger.recvfrom(70000)
    result = {"stranger_reply": reply.hex(), "stranger_source": list(source), "tid": list(tid)}
    while True:
        block = struct.unpack("!H", packet[2:4])[0]
        chunks.append(packet[4:])
        s.sendto(struct.pack("!HH", 4, block), tid)
        if len(packet) - 4 < 512:
            break
        packet, source = s.recvfrom(70000)
        assert source == tid
    result["sha256"] = hashlib.sha256(b"".join(chunks)).hexdigest()
    s.close()
    stranger.close()
    return result


def stall_job(count: int) -> dict:
    """`count` RRQs whose OACK and DATA are never acknowledged; the sockets stay open."""
    sockets = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(rrq(b"small.bin", blksize=1024) if i % 2 else rrq(b"small.bin"), (SERVER, 69))
        sockets.append(s)
    time.sleep(1.5)
    first = 0
    for s in sockets:
        s.setblocking(False)
        try:
            while True:
                s.recvfrom(70000)
                first += 1
        except BlockingIOError:
            pass
    return {"replies": first}


def crowd_job(count: int, name: bytes) -> dict:
    """`count` lock-step transfers of `name` at once from one thread (selectors); returns
    how many completed and the digests seen."""
    import selectors
    selector = selectors.DefaultSelector()
    states = {}
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        request = rrq(name)
        s.sendto(request, (SERVER, 69))
        states[s] = {"request": request, "tid": None, "expected": 1, "chunks": [], "last": time.time(), "done": False}
        selector.register(s, selectors.EVENT_READ)
    remaining = count
    deadline = time.time() + 120
    errors = []
    while remaining and time.time() < deadline:
        for key, _ in selector.select(timeout=0.2):
            s = key.fileobj
            state = states[s]
            try:
                packet, source = s.recvfrom(70000)
            except BlockingIOError:
                continue
            if state["tid"] is None:
                state["tid"] = source
            if source != state["tid"] or state["done"]:
                continue
            state["last"] = time.time()
            if packet[:2] == b"\0\5":
                errors.append(packet[2:].hex())
                state["done"] = True
                remaining -= 1
                selector.unregister(s)
                continue
            block = struct.unpack("!H", packet[2:4])[0]
            if block == state["expected"] & 0xFFFF:
                state["chunks"].append(packet[4:])
                state["expected"] += 1
            s.sendto(struct.pack("!HH", 4, block), source)
            if block == (state["expected"] - 1) & 0xFFFF and len(packet) - 4 < 512:
                state["done"] = True
                remaining -= 1
                selector.unregister(s)
        now = time.time()
        for s, state in states.items():
            if not state["done"] and now - state["last"] > 1.5:
                state["last"] = now
                if state["tid"] is None:
                    s.sendto(state["request"], (SERVER, 69))
                else:
                    s.sendto(struct.pack("!HH", 4, (state["expected"] - 1) & 0xFFFF), state["tid"])
    digests = {}
    for s, state in states.items():
        if state["done"] and state["chunks"]:
            digest = hashlib.sha256(b"".join(state["chunks"])).hexdigest()
            digests[digest] = digests.get(digest, 0) + 1
        s.close()
    return {"completed": count - remaining, "digests": digests, "errors": errors[:5]}


def client_main(job: dict):
    kind = job["kind"]
    if kind == "fetch":
        return outcome(job)
    if kind == "many":
        results = [None] * len(job["jobs"])

        def run(i, j):
            results[i] = outcome(j)

        threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(job["jobs"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results
    if kind == "raw":
        reply, source = request_only(bytes.fromhex(job["packet"]))
        return {"reply": reply.hex() if reply is not None else None, "source": list(source) if source else None}
    if kind == "unknown_tid":
        return unknown_tid_job()
    if kind == "crowd":
        return crowd_job(job["count"], job["name"].encode())
    if kind == "stall":
        return stall_job(job["count"])
    raise ValueError(kind)


if __name__ == "__main__":
    print(json.dumps(client_main(json.loads(sys.argv[1]))))
    sys.exit(0)


# ---------------------------------------------------------------- the tests (run as root)

import pytest  # noqa: E402

from netlab import SITE, Lab, RackProcess, run  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def client(lab: Lab, job: dict, timeout=300):
    out = lab.exec_b("python3", os.path.abspath(__file__), json.dumps(job), timeout=timeout)
    return json.loads(out.stdout)


def fetch_in_b(lab: Lab, name: bytes | str, **job):
    name = name.encode() if isinstance(name, str) else name
    return client(lab, {"kind": "fetch", "name": name.hex(), **job})


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The files root, a secret beside it, and the links that try to reach the secret."""
    base = tmp_path_factory.mktemp("tftp")
    root = base / "root"
    (root / "images").mkdir(parents=True)
    (root / "small").mkdir()
    big = os.urandom(BIG)
    (root / "big.bin").write_bytes(big)
    (root / "small.bin").write_bytes(os.urandom(5000))
    (root / "empty.bin").write_bytes(b"")
    (root / "exact.bin").write_bytes(os.urandom(1468 * 3))
    (root / "text.txt").write_bytes(b"line one\nline two\r\nbare\rcr\n")
    for i in range(200):
        (root / "small" / f"f{i:03}.bin").write_bytes(os.urandom(2000 + 97 * i))
    secret = base / "secret.txt"
    secret.write_bytes(b"SECRET-OUTSIDE-THE-ROOT\n")
    os.symlink(str(secret), root / "absolute-link")
    os.symlink("../secret.txt", root / "relative-link")
    os.symlink(str(base), root / "dir-link")
    os.symlink("small.bin", root / "inside-link")
    os.chmod(base, 0o755)
    return {"root": str(root), "secret": str(secret), "big_sha": hashlib.sha256(big).hexdigest(), "base": str(base)}


@pytest.fixture
def lab(request):
    lab = Lab(request.node.name[-6:].replace("[", "").replace("]", "").replace("-", "")[:4] or "t")
    run("ip", "-n", lab.b, "addr", "add", "198.18.0.2/24", "dev", "cb")
    yield lab
    lab.close()


def start_rack(lab, tmp_path, files, env: dict | None = None) -> RackProcess:
    rack = RackProcess(lab, str(tmp_path), site=SITE.replace("files: /srv/rackplane", f"files: {files['root']}"))
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        rack.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return rack


@pytest.fixture
def rack(lab, tmp_path, files):
    return start_rack(lab, tmp_path, files)


def test_tftp_hpa_fetches_32_mib_byte_identical(lab, rack, files, tmp_path):
    # tftp-hpa's client negotiates no options: blocks of 512, lock-step, 65537 of them.
    out = str(tmp_path / "hpa.bin")
    result = lab.exec_b("tftp", "-m", "binary", SERVER, "-c", "get", "big.bin", out, timeout=600, check=False)
    assert os.path.exists(out), result.stdout + result.stderr
    assert sha256_file(out) == files["big_sha"], result.stdout + result.stderr


@pytest.mark.parametrize("blksize", [512, 1468])
def test_atftp_fetches_32_mib_byte_identical(lab, rack, files, tmp_path, blksize):
    out = str(tmp_path / f"atftp-{blksize}.bin")
    result = lab.exec_b("atftp", "--verbose", "-g", "-r", "big.bin", "-l", out, "--option", f"blksize {blksize}",
                        "--option", "tsize 0", SERVER, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sha256_file(out) == files["big_sha"]
    # atftp's trace shows the OACK: the size is the file's (RFC 2349).
    small = str(tmp_path / "small.bin")
    trace = lab.exec_b("atftp", "--trace", "-g", "-r", "small.bin", "-l", small, "--option", f"blksize {blksize}",
                       "--option", "tsize 0", SERVER, timeout=60, check=False)
    oack = [l for l in (trace.stdout + trace.stderr).splitlines() if "OACK" in l]
    assert oack and "tsize: 5000" in oack[0] and f"blksize: {blksize}" in oack[0], trace.stdout + trace.stderr


@pytest.mark.parametrize("blksize", [512, 1468])
def test_curl_fetches_32_mib_byte_identical(lab, rack, files, tmp_path, blksize):
    out = str(tmp_path / f"curl-{blksize}.bin")
    result = lab.exec_b("curl", "-sS", "-o", out, "--tftp-blksize", str(blksize), f"tftp://{SERVER}/big.bin",
                        timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    assert sha256_file(out) == files["big_sha"]


@pytest.mark.parametrize("backend", ["io_uring", "epoll"])
def test_windowsize_16_client_fetches_32_mib_byte_identical_with_tsize(lab, tmp_path, files, backend):
    rack = RackProcess(lab, str(tmp_path), site=SITE.replace("files: /srv/rackplane", f"files: {files['root']}"),
                       backend=None if backend == "io_uring" else backend)
    rack.start()
    assert f"{backend} backend" in rack.log_text()
    result = fetch_in_b(lab, "big.bin", blksize=1468, windowsize=16)
    assert result["ok"], result
    assert result["sha256"] == files["big_sha"]
    assert result["options"] == {"blksize": "1468", "tsize": str(BIG), "windowsize": "16"}
    # The transfer came from its own port (the TID), from the address the request went to.
    assert result["tid"][0] == SERVER and result["tid"][1] != 69
    # On io_uring each window leaves as one segmented (UDP GSO) send; epoll sends block by block.
    segmented = lab.metric("rackplane_engine_segmented_sends_total")
    blocks = -(-BIG // 1468) + 1
    if backend == "io_uring":
        assert segmented >= 0.9 * blocks / 16, (segmented, blocks)
    else:
        assert segmented == 0


def test_blksize_is_capped_to_the_path_mtu_and_small_files_edge_sizes(lab, rack, files):
    result = fetch_in_b(lab, "small.bin", blksize=65464)
    assert result["ok"] and result["options"]["blksize"] == "1468"
    assert bytes.fromhex(result["data"]) == open(os.path.join(files["root"], "small.bin"), "rb").read()
    empty = fetch_in_b(lab, "empty.bin", blksize=1468)
    assert empty["ok"] and empty["length"] == 0 and empty["options"]["tsize"] == "0"
    exact = fetch_in_b(lab, "exact.bin", blksize=1468, windowsize=2)
    assert exact["ok"] and bytes.fromhex(exact["data"]) == open(os.path.join(files["root"], "exact.bin"), "rb").read()
    # No options: no OACK, DATA 1 first.
    plain = fetch_in_b(lab, "small.bin", tsize=False)
    assert plain["ok"] and plain["options"] == {} and plain["length"] == 5000


def test_netascii_with_tftp_hpa(lab, rack, files, tmp_path):
    out = str(tmp_path / "text.txt")
    lab.exec_b("tftp", "-m", "netascii", SERVER, "-c", "get", "text.txt", out, timeout=60, check=False)
    assert open(out, "rb").read() == open(os.path.join(files["root"], "text.txt"), "rb").read()


def traversal_attempts():
    return [b"../etc/passwd", b"/etc/passwd", b"../../../../etc/passwd", b"images/../../secret.txt",
            b"..\\secret.txt", b"absolute-link", b"relative-link", b"dir-link/secret.txt"]


def assert_refused(lab, files, name: bytes, codes=(1, 2)):
    result = fetch_in_b(lab, name)
    assert not result["ok"] and result["error"] in codes, (name, result)
    assert b"SECRET" not in bytes.fromhex(result.get("data") or "")


@pytest.mark.parametrize("opener", ["openat2", "nofollow"])
def test_path_traversal_gets_an_error_and_nothing_outside_the_root(lab, tmp_path, files, opener):
    rack = start_rack(lab, tmp_path, files, env={"RACKPLANE_NO_OPENAT2": "1"} if opener == "nofollow" else None)
    for name in traversal_attempts():
        # "/etc/passwd" is taken relative to the root (as a chrooted tftpd would): not found.
        assert_refused(lab, files, name, codes=(1,) if name == b"/etc/passwd" else (2,))
    # A NUL inside the name makes the rest of it the mode: a malformed request, ERROR 4.
    for packet in (struct.pack("!H", 1) + b"small.bin\0../secret.txt\0octet\0",
                   struct.pack("!H", 1) + b"relative-link\0\0octet\0"):
        reply = client(lab, {"kind": "raw", "packet": packet.hex()})
        assert reply["reply"] and bytes.fromhex(reply["reply"])[:4] == b"\0\5\0\4", reply
    # A link that stays inside is followed by openat2; the fallback refuses every link.
    inside = fetch_in_b(lab, "inside-link")
    if opener == "openat2":
        assert inside["ok"] and inside["length"] == 5000
    else:
        assert not inside["ok"] and inside["error"] == 2
    assert lab.metric('rackplane_tftp_requests_refused_total{reason="outside_root"}') >= 3
    assert lab.metric("rackplane_tftp_transfers_started_total") <= 1


def test_errors_file_not_found_write_request_and_directories(lab, rack):
    missing = fetch_in_b(lab, "no-such-file")
    assert missing == {"ok": False, "error": 1, "message": "file not found"}
    directory = fetch_in_b(lab, "images")
    assert not directory["ok"] and directory["error"] == 1
    wrq = struct.pack("!H", 2) + b"upload.bin\0octet\0"
    reply = client(lab, {"kind": "raw", "packet": wrq.hex()})
    assert bytes.fromhex(reply["reply"])[:4] == b"\0\5\0\2", reply
    mail = client(lab, {"kind": "raw", "packet": rrq(b"small.bin", mode=b"mail").hex()})
    assert bytes.fromhex(mail["reply"])[:4] == b"\0\5\0\4", mail


def test_boot_config_is_rendered_for_the_sites_machine(lab, rack):
    result = fetch_in_b(lab, "pxelinux.cfg/01-52-54-00-00-00-01")
    assert result["ok"], result
    text = bytes.fromhex(result["data"]).decode()
    assert "node01" in text and "52:54:00:00:00:01" in text
    assert "KERNEL images/vmlinuz" in text and "INITRD images/initrd.gz" in text
    assert "console=ttyS0" in text and "rackplane.purpose=commission" in text
    assert int(result["options"]["tsize"]) == result["length"]
    # Backslashes are normalised; an unknown MAC enlists; a malformed name is "file not found".
    same = fetch_in_b(lab, "pxelinux.cfg\\01-52-54-00-00-00-01")
    assert same["ok"] and same["data"] == result["data"]
    unknown = fetch_in_b(lab, "pxelinux.cfg/01-52-54-00-00-99-99")
    assert unknown["ok"] and "enlist" in bytes.fromhex(unknown["data"]).decode()
    malformed = fetch_in_b(lab, "pxelinux.cfg/zz")
    assert not malformed["ok"] and malformed["error"] == 1
    assert lab.metric("rackplane_tftp_boot_configs_served_total") >= 3


def test_a_stranger_on_a_transfer_port_gets_error_5_and_the_transfer_goes_on(lab, rack, files):
    result = client(lab, {"kind": "unknown_tid"})
    reply = bytes.fromhex(result["stranger_reply"])
    assert reply[:4] == b"\0\5\0\5", reply
    assert result["stranger_source"] == result["tid"]
    expected = hashlib.sha256(open(os.path.join(files["root"], "small.bin"), "rb").read()).hexdigest()
    assert result["sha256"] == expected
    assert lab.metric("rackplane_tftp_unknown_transfer_id_total") == 1


def test_200_concurrent_transfers_all_complete(lab, rack, files):
    jobs = []
    for i in range(200):
        job = {"name": f"small/f{i:03}.bin".encode().hex()}
        if i % 3 == 1:
            job.update(blksize=1468)
        elif i % 3 == 2:
            job.update(blksize=1024, windowsize=8)
        jobs.append(job)
    results = client(lab, {"kind": "many", "jobs": jobs}, timeout=300)
    for i, result in enumerate(results):
        assert result["ok"], (i, result)
        expected = open(os.path.join(files["root"], "small", f"f{i:03}.bin"), "rb").read()
        assert bytes.fromhex(result["data"]) == expected, i
    deadline = time.time() + 5
    while time.time() < deadline and lab.metric("rackplane_tftp_transfers_finished_total") < 200:
        time.sleep(0.1)
    assert lab.metric("rackplane_tftp_transfers_finished_total") == 200
    assert lab.metric("rackplane_tftp_transfers_active") == 0


def test_2000_concurrent_transfers_on_one_ring(lab, rack, files):
    # One client thread keeps 2000 lock-step transfers open at once; the rack runs one ring.
    result = client(lab, {"kind": "crowd", "count": 2000, "name": "small.bin"}, timeout=300)
    expected = hashlib.sha256(open(os.path.join(files["root"], "small.bin"), "rb").read()).hexdigest()
    assert result["completed"] == 2000 and result["digests"] == {expected: 2000}, result
    deadline = time.time() + 5
    while time.time() < deadline and lab.metric("rackplane_tftp_transfers_active") > 0:
        time.sleep(0.1)
    assert lab.metric("rackplane_tftp_transfers_finished_total") == 2000
    assert lab.metric("rackplane_tftp_transfers_active") == 0


def test_stalled_transfers_expire_and_release_everything(lab, rack):
    # 40 clients ask and never acknowledge. Each transfer resends with backoff (1, 2, 4, 8, 8 s)
    # and then gives up: its socket, timer and mapping go.
    result = client(lab, {"kind": "stall", "count": 40})
    assert result["replies"] >= 40
    assert lab.metric("rackplane_tftp_transfers_active") == 40
    pid = rack.process.pid
    rack_pid = int(run("pgrep", "-P", str(pid)).stdout.split()[0]) if run("pgrep", "-P", str(pid), check=False).stdout else pid
    deadline = time.time() + 60
    while time.time() < deadline and lab.metric("rackplane_tftp_transfers_active") > 0:
        time.sleep(1)
    assert lab.metric("rackplane_tftp_transfers_active") == 0
    assert lab.metric('rackplane_tftp_transfers_aborted_total{reason="timed_out"}') == 40
    assert lab.metric("rackplane_tftp_retransmissions_total") >= 40 * 5
    # The rack still serves, and holds no transfer socket (only port 69 per ring).
    time.sleep(2.5)
    udp = lab.exec_a("ss", "-uanp").stdout
    sockets = [l for l in udp.splitlines() if f"pid={rack_pid}," in l and "198.18.0.1:" in l]
    assert sockets == [], sockets
    maps = open(f"/proc/{rack_pid}/maps").read()
    assert "small.bin" not in maps
    again = fetch_in_b(lab, "small.bin")
    assert again["ok"] and again["length"] == 5000
