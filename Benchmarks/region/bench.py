"""Driver of Benchmarks/region/run (see the header there). Runs in namespace B: the region's API
and the rack's DNS are both at 198.18.0.1, across the veth.

Environment (set by run): REGION (URL), TOKEN, RACK_NAME, REGION_PID, RACK_PID, PG_DATA (the
embedded cluster's data directory, for its postmaster.pid), OUT (results JSON), and the knobs
SMALL_MACHINES, SMALL_RECORDS, WRITES, LARGE_MACHINES, LARGE_RECORDS, LARGE_WRITES,
COMPILE_PASSES, LOAD_THREADS, LOAD_MODE (api | sql), PSQL (the psql command line, for sql).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

REGION = os.environ.get("REGION", "http://198.18.0.1:5240")
TOKEN = os.environ.get("TOKEN", "")
RACK_NAME = os.environ.get("RACK_NAME", "")
REGION_PID = int(os.environ.get("REGION_PID", "0"))
RACK_PID = int(os.environ.get("RACK_PID", "0"))
PG_DATA = os.environ.get("PG_DATA", "")
OUT = os.environ.get("OUT", "")
SMALL_MACHINES = int(os.environ.get("SMALL_MACHINES", "1000"))
SMALL_RECORDS = int(os.environ.get("SMALL_RECORDS", "1000"))
WRITES = int(os.environ.get("WRITES", "1000"))
LARGE_MACHINES = int(os.environ.get("LARGE_MACHINES", "100000"))
LARGE_RECORDS = int(os.environ.get("LARGE_RECORDS", "100000"))
LARGE_WRITES = int(os.environ.get("LARGE_WRITES", "50"))
COMPILE_PASSES = int(os.environ.get("COMPILE_PASSES", "5"))
LOAD_THREADS = int(os.environ.get("LOAD_THREADS", "8"))
LOAD_MODE = os.environ.get("LOAD_MODE", "api")
PSQL = os.environ.get("PSQL", "")
DNS_SERVER = ("198.18.0.1", 53)
SERVE_TIMEOUT = float(os.environ.get("SERVE_TIMEOUT", "120"))

url = urllib.parse.urlparse(REGION)
results: dict = {"errors": []}


def log(message: str):
    print(time.strftime("%H:%M:%S", time.gmtime()), "region bench:", message, file=sys.stderr, flush=True)


def save():
    with open(OUT, "w") as f:
        json.dump(results, f, indent=1)


# ------------------------------------------------------------------ HTTP (keep-alive per thread)
_local = threading.local()


def api(method: str, path: str, body=None, expect=(200, 201, 204)):
    """One API call on this thread's kept-alive connection. Returns (status, parsed body)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    for attempt in range(3):
        conn = getattr(_local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
            _local.conn = conn
        try:
            conn.request(method, "/api/v1" + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                _local.conn = None
            break
        except (http.client.HTTPException, OSError) as error:
            conn.close()
            _local.conn = None
            if attempt == 2:
                raise
            results["errors"].append(f"{method} {path}: {error!r} (retried)")
    parsed = json.loads(raw) if raw.strip() else None
    if response.status not in expect:
        message = f"{method} {path} -> {response.status} {raw[:300]!r}"
        results["errors"].append(message)
        raise RuntimeError(message)
    return response.status, parsed


def metrics() -> dict[str, float]:
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


# ------------------------------------------------------------------ DNS (one UDP query)
_dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def dns_a(name: str, timeout: float = 0.2) -> str | None:
    """The first A address the rack answers for `name`, or None (NXDOMAIN, no answer, timeout)."""
    qid = random.randrange(65536)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    _dns.settimeout(timeout)
    _dns.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1), DNS_SERVER)
    deadline = time.monotonic() + timeout
    while True:
        try:
            packet = _dns.recv(4096)
        except socket.timeout:
            return None
        if len(packet) >= 12 and struct.unpack("!H", packet[:2])[0] == qid:
            break
        if time.monotonic() > deadline:
            return None
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", packet[:12])
    if flags & 0xF or an == 0:
        return None
    offset = 12
    for _ in range(qd):
        offset = _skip_name(packet, offset) + 4
    for _ in range(an):
        offset = _skip_name(packet, offset)
        rtype, _, _, length = struct.unpack("!HHIH", packet[offset:offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            return socket.inet_ntoa(packet[offset:offset + 4])
        offset += length
    return None


def _skip_name(packet: bytes, offset: int) -> int:
    while True:
        length = packet[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += length + 1


# ------------------------------------------------------------------ processes' memory
def status(pid: int) -> dict[str, int]:
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    values[key] = int(rest.split()[0])
    except FileNotFoundError:
        pass
    return values


def postgres_pids() -> list[int]:
    with open(os.path.join(PG_DATA, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return pids


def memory(label: str):
    region = status(REGION_PID)
    rack = status(RACK_PID)
    pg = [status(pid) for pid in postgres_pids()]
    entry = {
        "region_rss_kb": region.get("VmRSS", 0), "region_hwm_kb": region.get("VmHWM", 0),
        "region_anon_kb": region.get("RssAnon", 0),
        "rack_rss_kb": rack.get("VmRSS", 0), "rack_hwm_kb": rack.get("VmHWM", 0),
        "pg_processes": len(pg),
        "pg_rss_sum_kb": sum(s.get("VmRSS", 0) for s in pg),
        "pg_anon_sum_kb": sum(s.get("RssAnon", 0) for s in pg),
        "pg_shmem_max_kb": max((s.get("RssShmem", 0) for s in pg), default=0),
    }
    results.setdefault("memory", {})[label] = entry
    log(f"memory {label}: region {entry['region_rss_kb'] // 1024} MiB (HWM {entry['region_hwm_kb'] // 1024}), "
        f"PostgreSQL {entry['pg_processes']} processes, RSS sum {entry['pg_rss_sum_kb'] // 1024} MiB "
        f"(anon {entry['pg_anon_sum_kb'] // 1024}, shared max {entry['pg_shmem_max_kb'] // 1024}), "
        f"rack {entry['rack_rss_kb'] // 1024} MiB")
    save()


# ------------------------------------------------------------------ the model
# 198.18.0.0/15 as 32 /20 subnets; machine k gets host offset 10.. of subnet k // PER_SUBNET
# (198.18.0.1 is the rack, 198.18.0.2 this driver). Written records use 198.19.255.0/24-ish
# values outside every machine's address (values need not be unique across names).
PER_SUBNET = 4096 - 10 - 1
SUBNETS = [ipaddress.ip_network("198.18.0.0/15").subnets(new_prefix=20)]
SUBNETS = list(SUBNETS[0])


def machine_address(k: int) -> str:
    subnet = SUBNETS[k // PER_SUBNET]
    return str(subnet.network_address + 10 + k % PER_SUBNET)


def machine_body(k: int, subnet_ids: list[int]) -> dict:
    return {"hostname": f"m{k:06d}", "interfaces": [{
        "mac": "0a:%02x:%02x:%02x:%02x:%02x" % (0xbe, (k >> 24) & 255, (k >> 16) & 255, (k >> 8) & 255, k & 255),
        "subnet_id": subnet_ids[k // PER_SUBNET], "ip": machine_address(k)}]}


def record_body(k: int, domain_id: int) -> dict:
    return {"domain_id": domain_id, "name": f"r{k:06d}", "type": "A",
            "value": f"10.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}"}


def setup() -> dict:
    deadline = time.time() + 60
    racks = []
    while time.time() < deadline:
        racks = [r for r in api("GET", "/racks")[1] if r["name"] == RACK_NAME]
        if racks:
            break
        time.sleep(0.2)
    if not racks:
        raise RuntimeError("the rack did not enrol")
    rack_id = racks[0]["id"]
    fabric = api("POST", "/fabrics", {"name": "bench"})[1]["id"]
    vlan = api("POST", "/vlans", {"fabric_id": fabric, "vid": 0, "dhcp_on": True, "primary_rack_id": rack_id})[1]["id"]
    subnet_ids = []
    for subnet in SUBNETS:
        gateway = "198.18.0.1" if subnet.network_address == ipaddress.ip_address("198.18.0.0") else str(subnet.network_address + 1)
        subnet_ids.append(api("POST", "/subnets", {"vlan_id": vlan, "cidr": str(subnet), "gateway": gateway,
                                                   "dns_servers": ["198.18.0.1"]})[1]["id"])
    # A small dynamic pool (DHCP needs somewhere to lease from), below every machine's address.
    api("POST", "/ranges", {"subnet_id": subnet_ids[0], "type": "dynamic", "start_ip": "198.18.0.3", "end_ip": "198.18.0.9"})
    domain_id = next(d for d in api("GET", "/domains")[1] if d["name"] == "maas")["id"]
    return {"rack_id": rack_id, "subnet_ids": subnet_ids, "domain_id": domain_id}


def load_api(model: dict, machines: range, records: range) -> float:
    """Creates machines and records with LOAD_THREADS concurrent keep-alive clients."""
    jobs = [("/machines", machine_body(k, model["subnet_ids"])) for k in machines]
    jobs += [("/records", record_body(k, model["domain_id"])) for k in records]
    random.Random(7).shuffle(jobs)
    position = 0
    lock = threading.Lock()
    failures = []
    progress = {"done": 0}
    started = time.monotonic()

    def worker():
        nonlocal position
        while True:
            with lock:
                if position >= len(jobs) or failures:
                    return
                index = position
                position += 64
            for path, body in jobs[index:index + 64]:
                try:
                    api("POST", path, body, expect=(201,))
                except Exception as error:  # noqa: BLE001 - reported below
                    failures.append(str(error))
                    return
            with lock:
                progress["done"] += len(jobs[index:index + 64])
                if progress["done"] % 10240 < 64:
                    rate = progress["done"] / (time.monotonic() - started)
                    log(f"loaded {progress['done']}/{len(jobs)} ({rate:.0f}/s)")

    threads = [threading.Thread(target=worker) for _ in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"load failed: {failures[0]}")
    return time.monotonic() - started


def load_sql(model: dict, machines: range, records: range) -> float:
    """The same rows through psql, in two statements (bypasses the API, its events and checks in
    Swift; the database's own constraints and triggers still run)."""
    subnet_ids = model["subnet_ids"]
    cases = " ".join(f"WHEN {i} THEN {sid}" for i, sid in enumerate(subnet_ids))
    networks = " ".join(f"WHEN {i} THEN '{s}'::inet" for i, s in enumerate(SUBNETS))
    sql = f"""
BEGIN;
CREATE TEMP TABLE bench_k AS SELECT k FROM generate_series({machines.start}, {machines.stop - 1}) k;
INSERT INTO machines (hostname, domain_id)
  SELECT format('m%s', lpad(k::text, 6, '0')), {model['domain_id']} FROM bench_k;
INSERT INTO interfaces (machine_id, mac, subnet_id, subnet_cidr, mode, ip)
  SELECT m.id,
         format('0a:be:%s:%s:%s:%s', lpad(to_hex((k >> 24) & 255), 2, '0'), lpad(to_hex((k >> 16) & 255), 2, '0'),
                lpad(to_hex((k >> 8) & 255), 2, '0'), lpad(to_hex(k & 255), 2, '0'))::macaddr,
         CASE k / {PER_SUBNET} {cases} END,
         (SELECT cidr FROM subnets WHERE id = CASE k / {PER_SUBNET} {cases} END),
         'static',
         host(CASE k / {PER_SUBNET} {networks} END + 10 + k % {PER_SUBNET})::inet
  FROM bench_k JOIN machines m ON m.hostname = format('m%s', lpad(k::text, 6, '0'));
INSERT INTO dns_records (domain_id, name, type, value)
  SELECT {model['domain_id']}, format('r%s', lpad(k::text, 6, '0')), 'A',
         format('10.%s.%s.%s', (k >> 16) & 255, (k >> 8) & 255, k & 255)
  FROM generate_series({records.start}, {records.stop - 1}) k;
COMMIT;
"""
    started = time.monotonic()
    subprocess.run(PSQL.split() + ["-v", "ON_ERROR_STOP=1", "-q"], input=sql, text=True, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def region_tables(rack_id: int) -> dict | None:
    status_code, body = api("GET", f"/racks/{rack_id}/tables", expect=(200, 404))
    return body if status_code == 200 else None


def wait_generation_change(rack_id: int, old: int, timeout: float = SERVE_TIMEOUT) -> tuple[dict, float]:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        tables = region_tables(rack_id)
        if tables and tables["generation"] != old:
            return tables, time.monotonic()
        time.sleep(0.005)
    raise RuntimeError(f"no new generation after {timeout} s")


def wait_dns(name: str, address: str, timeout: float = SERVE_TIMEOUT) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if dns_a(name, timeout=0.05) == address:
            return time.monotonic()
        time.sleep(0.002)
    raise RuntimeError(f"{name} -> {address} not served after {timeout} s")


def settle(model: dict, probe_name: str, probe_address: str) -> dict:
    """Waits until the region is quiet and the rack serves the latest model: a probe name answers
    and the region's generation stays put for 1.5 s."""
    wait_dns(probe_name, probe_address, timeout=1800)
    tables = region_tables(model["rack_id"])
    while True:
        time.sleep(1.5)
        now = region_tables(model["rack_id"])
        if now == tables:
            return now
        tables = now


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def write_latencies(model: dict, count: int, tag: str, next_machine: int) -> dict:
    """`count` sequential API writes, alternately a new DNS record and a new machine (with a
    static address); after each, polls the rack's DNS until it answers with the new address."""
    latencies, posts, compiles = [], [], []
    for i in range(count):
        started = time.monotonic()
        if i % 2 == 0:
            name, address = f"{tag}{i:05d}", f"10.255.{(i >> 8) & 255}.{i & 255}"
            api("POST", "/records", {"domain_id": model["domain_id"], "name": name, "type": "A", "value": address},
                expect=(201,))
        else:
            k = next_machine + i
            body = machine_body(k, model["subnet_ids"])
            name, address = body["hostname"], body["interfaces"][0]["ip"]
            api("POST", "/machines", body, expect=(201,))
        posted = time.monotonic()
        served = wait_dns(f"{name}.maas", address)
        latencies.append(served - started)
        posts.append(posted - started)
        if (i + 1) % 100 == 0 or i + 1 == count:
            log(f"{tag}: {i + 1}/{count} writes, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
                f"max {max(latencies) * 1000:.0f} ms")
    return {"count": count, "p50": percentile(latencies, 50), "p90": percentile(latencies, 90),
            "p99": percentile(latencies, 99), "max": max(latencies), "min": min(latencies),
            "post_p50": percentile(posts, 50), "post_p99": percentile(posts, 99), "post_max": max(posts),
            "all": [round(x, 4) for x in latencies]}


def compile_passes(model: dict, passes: int) -> dict:
    """Touches one record per pass (PUT with a new value) and times the API answer to the
    region's new generation for the rack (GET /racks/ID/tables polled every 5 ms), then to the
    rack answering the new value over DNS."""
    if "probe" not in model:
        model["probe"] = api("POST", "/records", {"domain_id": model["domain_id"], "name": "probe", "type": "A",
                                                  "value": "10.254.0.0"}, expect=(201,))[1]
        model["probe_value"] = "10.254.0.0"
    record = model["probe"]
    settle(model, "probe.maas", model["probe_value"])
    region_times, rack_times, pass_times, announce_times, store_times = [], [], [], [], []
    for n in range(1, passes + 1):
        old = region_tables(model["rack_id"])["generation"]
        model["probe_n"] = model.get("probe_n", 0) + 1
        address = model["probe_value"] = f"10.254.0.{model['probe_n']}"
        started = time.monotonic()
        api("PUT", f"/records/{record['id']}", {"domain_id": model["domain_id"], "name": "probe", "type": "A",
                                                "value": address})
        written = time.monotonic()
        tables, published = wait_generation_change(model["rack_id"], old)
        served = wait_dns("probe.maas", address)
        # The pass that published it, as the region timed it: model read to announcement, and
        # any wait for the store of the snapshot before it (its "store" phase).
        phases = metrics()
        pass_seconds = phases.get('rackplane_region_last_publishing_compile_seconds{phase="total"}', float("nan"))
        announce_seconds = pass_seconds - phases.get('rackplane_region_last_publishing_compile_seconds{phase="store"}', 0.0)
        region_times.append(published - written)
        rack_times.append(served - written)
        pass_times.append(pass_seconds)
        announce_times.append(announce_seconds)
        log(f"compile pass {n}: {pass_seconds:.2f} s (announced at {announce_seconds:.2f} s); write -> region generation {tables['generation']} in "
            f"{published - written:.2f} s, -> rack serving in {served - written:.2f} s (snapshot {tables['size']} bytes)")
        time.sleep(1)
        # Its snapshot's store in PostgreSQL, which runs beside the compiler and has ended by now.
        store_times.append(metrics().get("rackplane_region_last_snapshot_store_seconds", float("nan")))
    return {"passes": passes, "region": region_times, "rack": rack_times, "pass": pass_times, "announce": announce_times,
            "store": store_times,
            "size": tables["size"], "region_median": percentile(region_times, 50), "rack_median": percentile(rack_times, 50),
            "pass_median": percentile(pass_times, 50), "announce_median": percentile(announce_times, 50),
            "store_median": percentile(store_times, 50)}


def main():
    started = time.monotonic()
    model = setup()
    results["rack_id"] = model["rack_id"]
    log(f"rack {model['rack_id']} enrolled; {len(SUBNETS)} subnets")

    # ---- small model: write -> serving
    seconds = load_api(model, range(0, SMALL_MACHINES), range(0, SMALL_RECORDS))
    results["small_load"] = {"machines": SMALL_MACHINES, "records": SMALL_RECORDS, "seconds": seconds}
    log(f"small model loaded in {seconds:.1f} s")
    tables = settle(model, f"m{SMALL_MACHINES - 1:06d}.maas", machine_address(SMALL_MACHINES - 1))
    results["small_tables"] = tables
    memory("small model loaded")
    results["small_compile"] = compile_passes(model, COMPILE_PASSES)
    results["small_writes"] = write_latencies(model, WRITES, "w", LARGE_MACHINES)
    memory("small model, after the writes")
    save()

    # ---- large model: load, compile, RSS, write -> serving
    machines = range(SMALL_MACHINES, LARGE_MACHINES)
    records = range(SMALL_RECORDS, LARGE_RECORDS)
    load_started = time.monotonic()
    if LOAD_MODE == "sql":
        seconds = load_sql(model, machines, records)
    else:
        seconds = load_api(model, machines, records)
    results["large_load"] = {"machines": LARGE_MACHINES, "records": LARGE_RECORDS, "seconds": seconds,
                             "objects_per_second": (len(machines) + len(records)) / seconds, "mode": LOAD_MODE,
                             "threads": LOAD_THREADS}
    log(f"large model loaded ({LOAD_MODE}) in {seconds:.1f} s; waiting for the rack to serve it")
    tables = settle(model, f"m{LARGE_MACHINES - 1:06d}.maas", machine_address(LARGE_MACHINES - 1))
    results["large_settle_seconds"] = time.monotonic() - load_started - seconds
    results["large_tables"] = tables
    memory("large model loaded")
    results["large_compile"] = compile_passes(model, COMPILE_PASSES)
    memory("large model, after the compiles")
    if LARGE_WRITES > 0:
        results["large_writes"] = write_latencies(model, LARGE_WRITES, "x", LARGE_MACHINES + WRITES)
        memory("large model, after the writes")
    results["metrics"] = {k: v for k, v in metrics().items() if v}
    results["total_seconds"] = time.monotonic() - started
    save()


def report(path: str):
    """The summary tables (markdown) from a results file."""
    r = json.load(open(path))
    mib = lambda kb: f"{kb / 1024:.0f} MiB"  # noqa: E731
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    met = lambda ok: "**met**" if ok else "**missed**"  # noqa: E731
    lines = []
    if "fatal" in r:
        lines += [f"**The run stopped early:** `{r['fatal']}`", ""]
    large = r.get("large_load", {})
    lc, sc = r.get("large_compile"), r.get("small_compile")
    lines += ["| measurement | value | target |", "|---|---:|---|"]
    if "small_load" in r:
        sl = r["small_load"]
        lines.append(f"| small model ({sl['machines']:,} machines + {sl['records']:,} records) loaded through the API, "
                     f"{LOAD_THREADS} clients | {sl['seconds']:.1f} s | — |")
    if large:
        how = "through the API" if large["mode"] == "api" else "with psql (bypassing the API)"
        lines.append(f"| large model ({large['machines']:,} machines + {large['records']:,} records) loaded {how}"
                     f"{', %d clients' % large['threads'] if large['mode'] == 'api' else ''} | {large['seconds']:.0f} s "
                     f"({large['objects_per_second']:.0f} objects/s) | — |")
    if "large_settle_seconds" in r:
        lines.append(f"| end of the large load → rack serving it | {r['large_settle_seconds']:.1f} s | — |")
    for label, c, tables in (("small", sc, r.get("small_tables")), ("large", lc, r.get("large_tables"))):
        if not c:
            continue
        compile_s = c["pass_median"]
        target = f"< 1 s: {met(compile_s < 1)}" if label == "large" else "—"
        lines.append(f"| {label} model: one-row write → region's new generation, median of {c['passes']} "
                     f"(min {min(c['region']):.2f}, max {max(c['region']):.2f}) | {c['region_median']:.2f} s | — |")
        lines.append(f"| {label} model: **compile pass** as the region timed it (`rackplane_region_last_publishing_compile_seconds`: "
                     f"model read to the racks told), median (min {min(c['pass']):.2f}, max {max(c['pass']):.2f}) | {compile_s:.2f} s | {target} |")
        if c.get("store"):
            lines.append(f"| {label} model: storing the snapshot in PostgreSQL, beside the compiler once the racks are told "
                         f"(`rackplane_region_last_snapshot_store_seconds`), median (min {min(c['store']):.2f}, max {max(c['store']):.2f}) "
                         f"| {c['store_median']:.2f} s | — |")
        lines.append(f"| {label} model: one-row write → rack answering it over DNS, median | {c['rack_median']:.2f} s | — |")
        lines.append(f"| {label} model: snapshot size | {c['size'] / 1048576:.1f} MiB ({c['size']:,} bytes) | — |")
    for label, key in (("small", "small_writes"), ("large", "large_writes")):
        w = r.get(key)
        if not w:
            continue
        target = f"p99 < 1 s: {met(w['p99'] < 1)}"
        lines.append(f"| {label} model: API write → rack serving it, {w['count']:,} sequential writes: "
                     f"p50 / p90 / p99 / max | {ms(w['p50'])} / {ms(w['p90'])} / {ms(w['p99'])} / {ms(w['max'])} | {target} |")
        lines.append(f"| {label} model: the API call alone, p50 / p99 / max | {ms(w['post_p50'])} / {ms(w['post_p99'])} / "
                     f"{ms(w['post_max'])} | — |")
    lines += ["", "| memory (VmRSS) | region | region VmHWM | PostgreSQL, sum over processes (anon; shared max) | "
              "PostgreSQL processes | rack |", "|---|---:|---:|---:|---:|---:|"]
    for label, m in r.get("memory", {}).items():
        lines.append(f"| {label} | {mib(m['region_rss_kb'])} | {mib(m['region_hwm_kb'])} | {mib(m['pg_rss_sum_kb'])} "
                     f"({mib(m['pg_anon_sum_kb'])}; {mib(m['pg_shmem_max_kb'])}) | {m['pg_processes']} | {mib(m['rack_rss_kb'])} |")
    metrics_ = r.get("metrics", {})
    statuses = {k: int(v) for k, v in metrics_.items() if k.startswith("rackplane_region_http_requests_total")}
    bad = {k: v for k, v in statuses.items() if 'status="5' in k}
    lines += ["", f"Region counters at the end: compiles {int(metrics_.get('rackplane_region_compiles_total', 0))}, "
              f"compile failures {int(metrics_.get('rackplane_region_compile_failures_total', 0))}, generations published "
              f"{int(metrics_.get('rackplane_region_generations_published_total', 0))}, 5xx answers "
              f"{sum(bad.values())}; client-side errors and retries: {len(r.get('errors', []))}."]
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
        sys.exit(0)
    try:
        main()
    except Exception as error:  # noqa: BLE001
        results["fatal"] = repr(error)
        try:
            results["metrics"] = {k: v for k, v in metrics().items() if v}
        except Exception:  # noqa: BLE001
            pass
        save()
        raise
