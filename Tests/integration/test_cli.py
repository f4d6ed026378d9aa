"""The `rackplane` API client against a running region (embedded PostgreSQL, loopback): login
and its config file, every resource verb, aligned tables, --json for scripts, and the server's
message with a non-zero exit when something is refused.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile

import pytest

from regionlab import RACKPLANE, RegionProcess, populate

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/usr/lib/postgresql"), reason="PostgreSQL (Debian's postgresql) is not installed"
)


@pytest.fixture(scope="module")
def region():
    region = RegionProcess()
    try:
        region.ids = populate(region)
        yield region
    finally:
        region.stop()


@pytest.fixture
def config_home():
    with tempfile.TemporaryDirectory(prefix="rackplane-cli-") as home:
        yield home


def cli(config_home: str, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RACKPLANE_") or k == "RACKPLANE"}
    environment["XDG_CONFIG_HOME"] = config_home
    environment.update(env or {})
    return subprocess.run([RACKPLANE, *argv], capture_output=True, text=True, timeout=60, env=environment)


def logged_in(region, config_home):
    result = cli(config_home, "login", region.base, region.token)
    assert result.returncode == 0, result.stderr
    return config_home


def test_login_checks_the_token_and_keeps_it_private(region, config_home):
    refused = cli(config_home, "machines", "list")
    assert refused.returncode != 0
    assert "not logged in" in refused.stderr and "rackplane login URL TOKEN" in refused.stderr

    bad = cli(config_home, "login", region.base, "rp_not-a-token")
    assert bad.returncode != 0
    assert "401 unknown token" in bad.stderr
    assert not os.path.exists(os.path.join(config_home, "rackplane", "cli.json"))

    good = cli(config_home, "login", region.base, region.token)
    assert good.returncode == 0, good.stderr
    assert "as admin (admin)" in good.stdout
    path = os.path.join(config_home, "rackplane", "cli.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert json.load(open(path)) == {"url": region.base, "token": region.token}

    # The environment overrides the file, field by field.
    unreachable = cli(config_home, "racks", env={"RACKPLANE_URL": "http://127.0.0.1:1"})
    assert unreachable.returncode != 0 and "cannot reach the region at http://127.0.0.1:1" in unreachable.stderr
    wrong_token = cli(config_home, "racks", env={"RACKPLANE_TOKEN": "rp_wrong"})
    assert wrong_token.returncode != 0 and "401 unknown token" in wrong_token.stderr
    only_env = cli(tempfile.mkdtemp(dir=config_home), "racks", env={"RACKPLANE_URL": region.base, "RACKPLANE_TOKEN": region.token})
    assert only_env.returncode == 0 and "rack-a" in only_env.stdout


def test_machines_list_is_an_aligned_table_and_json_is_the_servers(region, config_home):
    logged_in(region, config_home)
    table = cli(config_home, "machines", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "HOSTNAME", "STATUS", "ARCH", "POWER", "BOOT", "ADDRESSES"]
    # Aligned: every column starts where its header does.
    status_column = lines[0].index("STATUS")
    rows = {line.split()[1]: line for line in lines[1:]}
    assert rows["node-01.lab.example"][status_column:].startswith("deployed")
    assert rows["node-05.lab.example"][status_column:].startswith("commissioning")
    assert "198.18.0.31, 198.18.8.11" in rows["node-01.lab.example"]

    listed = cli(config_home, "machines", "list", "--json")
    status, served = region.api("GET", "/machines")
    assert json.loads(listed.stdout) == served

    ready = cli(config_home, "machines", "list", "--status", "ready", "--json")
    assert sorted(m["hostname"] for m in json.loads(ready.stdout)) == ["gpu-02", "node-03", "node-04"]
    found = cli(config_home, "machines", "list", "-q", "52:54:00:12:00:07", "--json")
    assert [m["hostname"] for m in json.loads(found.stdout)] == ["node-07"]
    bad = cli(config_home, "machines", "list", "--status", "sleeping")
    assert bad.returncode != 0 and "400 unknown status sleeping" in bad.stderr


def test_create_commission_and_refusals(region, config_home):
    logged_in(region, config_home)
    created = cli(config_home, "machines", "create", "cli-01", "--architecture", "arm64", "--mac", "52:54:00:cc:00:01",
                  "--subnet", "198.18.0.0/24", "--ip", "198.18.0.60", "--json")
    assert created.returncode == 0, created.stderr
    machine = json.loads(created.stdout)
    assert machine["status"] == "new" and machine["architecture"] == "arm64"
    assert machine["interfaces"][0]["ip"] == "198.18.0.60"

    shown = cli(config_home, "machines", "show", "cli-01")
    assert shown.returncode == 0
    assert "status:           new" in shown.stdout
    assert "52:54:00:cc:00:01" in shown.stdout

    commissioned = cli(config_home, "machines", "commission", "cli-01")
    assert commissioned.returncode == 0, commissioned.stderr
    assert "commissioning" in commissioned.stdout
    assert region.api("GET", f"/machines/{machine['id']}")[1]["status"] == "commissioning"

    # Refusals: the server's message, a non-zero exit, and nothing changed.
    deploy = cli(config_home, "machines", "deploy", "cli-01")
    assert deploy.returncode == 1
    assert "409 cannot deploy a machine that is commissioning (allowed from: ready)" in deploy.stderr
    duplicate = cli(config_home, "machines", "create", "cli-02", "--mac", "52:54:00:cc:00:01")
    assert duplicate.returncode == 1
    assert "409 another interface already has this MAC" in duplicate.stderr
    outside = cli(config_home, "machines", "create", "cli-03", "--mac", "52:54:00:cc:00:03", "--subnet", "198.18.0.0/24", "--ip", "198.18.0.150")
    assert outside.returncode == 1 and "a static address may not be inside a dynamic range" in outside.stderr
    assert cli(config_home, "machines", "show", "no-such-machine").stderr.strip() == "rackplane: no machine named no-such-machine"

    # Several machines at once: each is tried, and one refusal makes the exit status 1.
    ready = [m["hostname"] for m in region.api("GET", "/machines?status=ready")[1]][:1]
    both = cli(config_home, "machines", "deploy", ready[0], "cli-01")
    assert both.returncode == 1
    assert ready[0] in both.stdout and "deploying" in both.stdout
    assert "cli-01" in both.stderr
    released = cli(config_home, "machines", "release", ready[0], "--json")
    assert released.returncode == 0 and json.loads(released.stdout)[0]["status"] == "releasing"

    deleted = cli(config_home, "machines", "delete", "cli-01")
    assert deleted.returncode == 0
    assert region.api("GET", f"/machines/{machine['id']}")[0] == 404


def test_subnets_ranges_records_racks_and_events(region, config_home):
    logged_in(region, config_home)
    subnets = cli(config_home, "subnets")
    assert subnets.returncode == 0
    assert subnets.stdout.splitlines()[0].split() == ["ID", "CIDR", "NAME", "VLAN", "GATEWAY", "DNS", "LEASE"]
    assert "198.18.8.0/22" in subnets.stdout

    vlan = region.api("GET", "/vlans")[1][0]["id"]
    made = cli(config_home, "subnets", "create", "198.18.20.0/24", "--vlan-id", str(vlan), "--gateway", "198.18.20.1",
               "--dns-server", "198.18.20.2", "--dns-server", "198.18.20.3", "--json")
    assert made.returncode == 0, made.stderr
    subnet = json.loads(made.stdout)
    assert subnet["dns_servers"] == ["198.18.20.2", "198.18.20.3"]
    overlap = cli(config_home, "subnets", "create", "198.18.20.128/25", "--vlan-id", str(vlan))
    assert overlap.returncode == 1 and "the cidr overlaps an existing subnet" in overlap.stderr

    range_made = cli(config_home, "ranges", "create", "--subnet", "198.18.20.0/24", "--type", "dynamic",
                     "--start", "198.18.20.100", "--end", "198.18.20.150", "--comment", "pool", "--json")
    assert range_made.returncode == 0, range_made.stderr
    range_id = json.loads(range_made.stdout)["id"]
    ranges = cli(config_home, "ranges", "list")
    assert any(line.split()[:3] == [str(range_id), "198.18.20.0/24", "dynamic"] for line in ranges.stdout.splitlines())
    bad_range = cli(config_home, "ranges", "create", "--subnet", str(subnet["id"]), "--type", "dynamic", "--start", "198.18.20.140", "--end", "198.18.20.160")
    assert bad_range.returncode == 1 and "overlaps another range" in bad_range.stderr
    assert cli(config_home, "ranges", "delete", str(range_id)).returncode == 0
    assert cli(config_home, "ranges", "show", str(range_id)).returncode == 1
    assert cli(config_home, "subnets", "delete", str(subnet["id"])).returncode == 0

    record = cli(config_home, "records", "create", "www", "A", "198.18.0.80", "--domain", "lab.example", "--ttl", "60", "--json")
    assert record.returncode == 0, record.stderr
    record_id = json.loads(record.stdout)["id"]
    records = cli(config_home, "records")
    assert any(line.split() == [str(record_id), "www.lab.example", "A", "198.18.0.80", "60"] for line in records.stdout.splitlines())
    wrong = cli(config_home, "records", "create", "v6", "A", "2001:db8::1", "--domain", "lab.example")
    assert wrong.returncode == 1 and "an A record needs an IPv4 address" in wrong.stderr
    shown = cli(config_home, "records", "show", str(record_id))
    assert "value:     198.18.0.80" in shown.stdout
    assert cli(config_home, "records", "delete", str(record_id)).stdout.strip() == f"deleted record {record_id}"

    racks = cli(config_home, "racks", "list")
    lines = racks.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "GENERATION"]
    assert {line.split()[1] for line in lines[1:]} >= {"rack-a", "rack-b"}
    rack_json = json.loads(cli(config_home, "racks", "show", str(region.ids["rack_a"]), "--json").stdout)
    assert rack_json["name"] == "rack-a" and rack_json["last_contact_at"]

    events = cli(config_home, "events", "--limit", "3", "--json")
    assert len(json.loads(events.stdout)) == 3
    table = cli(config_home, "events", "list", "--limit", "5")
    assert table.stdout.splitlines()[0].split() == ["ID", "AT", "ACTOR", "ACTION", "OBJECT", "SUMMARY"]
    assert len(table.stdout.splitlines()) == 6
    assert cli(config_home, "events", "--limit", "0").returncode == 1


def test_fabrics_and_vlans_give_a_new_region_its_network(region, config_home):
    logged_in(region, config_home)
    fabric = cli(config_home, "fabrics", "create", "fabric-9", "--description", "lab", "--json")
    assert fabric.returncode == 0, fabric.stderr
    vlan = cli(config_home, "vlans", "create", "--fabric", "fabric-9", "--vid", "0", "--dhcp-on", "--primary-rack", "rack-a",
               "--secondary-rack", "rack-b", "--json")
    assert vlan.returncode == 0, vlan.stderr
    created = json.loads(vlan.stdout)
    assert created["dhcp_on"] is True and created["primary_rack_id"] == region.ids["rack_a"]
    listed = cli(config_home, "vlans")
    row = next(line for line in listed.stdout.splitlines() if line.split()[0] == str(created["id"]))
    assert row.split() == [str(created["id"]), "fabric-9", "0", "-", "1500", "yes", "rack-a", "rack-b"]
    assert "fabric-9" in cli(config_home, "fabrics").stdout
    refused = cli(config_home, "vlans", "create", "--fabric", "fabric-9", "--vid", "5", "--dhcp-on")
    assert refused.returncode == 1 and "dhcp_on needs a primary_rack_id" in refused.stderr
    assert "no rack named rack-z" in cli(config_home, "vlans", "create", "--fabric", "fabric-9", "--vid", "6", "--primary-rack", "rack-z").stderr
    assert cli(config_home, "vlans", "delete", str(created["id"])).returncode == 0


def test_read_only_token_reads_but_cannot_write(region, config_home):
    region.create("/users", {"username": "viewer", "role": "read-only"})
    token = region.create("/tokens", {"username": "viewer"})["token"]
    assert cli(config_home, "login", region.base, token).returncode == 0
    assert cli(config_home, "machines").returncode == 0
    refused = cli(config_home, "machines", "commission", "node-08")
    assert refused.returncode == 1 and "403 token viewer is read-only" in refused.stderr
    assert region.api("GET", f"/machines/{region.ids['machines']['node-08']}")[1]["status"] == "new"
