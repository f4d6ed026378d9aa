"""What docs/operations.md promises, run: the daemons' settings files with environment variables
and flags over them, a region as an unprivileged user, a rack without root holding only its three
capabilities (in network namespaces made here, 198.18.0.0/15), and a backup of the region's
database with pg_dump restored into a new region.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest

from netlab import SITE, Lab, run
from regionlab import RACKPLANE, RegionProcess, free_port, populate

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/usr/lib/postgresql"), reason="PostgreSQL (Debian's postgresql) is not installed"
)

NOBODY = pwd.getpwnam("nobody")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users and making namespaces needs root")


@pytest.fixture
def workdir():
    root = tempfile.mkdtemp(prefix="rackplane-ops-", dir="/tmp")
    os.chmod(root, 0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def write(path: str, text: str) -> str:
    with open(path, "w") as file:
        file.write(text)
    return path


def rackplane(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RACKPLANE_")}
    environment.update(env or {})
    return subprocess.run([RACKPLANE, *argv], capture_output=True, text=True, timeout=60, env=environment)


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


@needs_root
def test_region_settings_file_then_environment_then_flags_as_an_unprivileged_user(workdir):
    state = os.path.join(workdir, "region")
    os.makedirs(state, mode=0o700)
    os.chown(state, NOBODY.pw_uid, NOBODY.pw_gid)
    from_file, from_environment, from_flag = free_port(), free_port(), free_port()
    config = write(os.path.join(workdir, "region.yaml"), f"state_dir: {state}\nlisten: \"127.0.0.1:{from_file}\"\n")
    # As the systemd unit runs it: not root, so the embedded cluster runs as the region's own user.
    nobody = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups"]

    region = RegionProcess(root=workdir, argv=["--config", config], prefix=nobody, port=from_file)
    try:
        assert region.api("GET", "/whoami")[1] == {"username": "admin", "role": "admin"}
        assert os.stat(os.path.join(state, "postgres", "data")).st_uid == NOBODY.pw_uid
        assert open(f"/proc/{region.process.pid}/status").read().count(f"\t{NOBODY.pw_uid}\t") >= 1
    finally:
        region.stop(remove=False)

    region = RegionProcess(root=workdir, argv=["--config", config], prefix=nobody, port=from_environment,
                           env={"RACKPLANE_REGION_LISTEN": f"127.0.0.1:{from_environment}"})
    try:
        assert not answers(from_file)
    finally:
        region.stop(remove=False)

    region = RegionProcess(root=workdir, argv=["--config", config, "--listen", f"127.0.0.1:{from_flag}"], prefix=nobody,
                           port=from_flag, env={"RACKPLANE_REGION_LISTEN": f"127.0.0.1:{from_environment}"})
    try:
        assert not answers(from_environment)
    finally:
        region.stop(remove=False)

    # `region secret` finds the state directory through the same file, or the variable naming it.
    secret = open(os.path.join(state, "rack-secret")).read().strip()
    assert rackplane("region", "secret", "--config", config).stdout.strip() == secret
    assert rackplane("region", "secret", env={"RACKPLANE_REGION_CONFIG": config}).stdout.strip() == secret


def test_bad_settings_stop_the_daemon_and_say_where_they_came_from(workdir):
    def refused(command: str, text: str, *flags: str, env: dict | None = None) -> str:
        config = write(os.path.join(workdir, f"{command}.yaml"), text)
        result = rackplane(command, "--config", config, *flags, env=env)
        assert result.returncode != 0, result.stdout
        return result.stderr

    assert "unknown setting listen_port" in refused("region", "state_dir: /tmp/x\nlisten_port: 5240\n")
    assert "region.yaml: listen must be ADDRESS:PORT" in refused("region", "state_dir: /tmp/x\nlisten: nowhere\n")
    assert "RACKPLANE_REGION_LISTEN must be ADDRESS:PORT" in refused(
        "region", "state_dir: /tmp/x\n", env={"RACKPLANE_REGION_LISTEN": "nowhere"})
    assert "--listen must be ADDRESS:PORT" in refused("region", "state_dir: /tmp/x\n", "--listen", "nowhere")
    assert "expected a map of settings" in refused("region", "- state_dir\n")
    missing = refused("region", "listen: \"127.0.0.1:1\"\n")
    assert "--state-dir is required (or RACKPLANE_REGION_STATE_DIR, or state_dir in /etc/rackplane/region.yaml)" in missing
    assert "no such settings file" in rackplane("region", "--config", os.path.join(workdir, "absent.yaml")).stderr

    assert "rack.yaml: metrics_port must be an integer" in refused("rack", "state_dir: /tmp/x\nsite: /tmp/site.yaml\nmetrics_port: lots\n")
    assert "RACKPLANE_RACK_THREADS must be an integer" in refused(
        "rack", "state_dir: /tmp/x\nsite: /tmp/site.yaml\n", env={"RACKPLANE_RACK_THREADS": "many"})
    assert "access_log must be true or false" in refused("rack", "state_dir: /tmp/x\nsite: /tmp/site.yaml\naccess_log: perhaps\n")
    assert "--region needs --secret or --secret-file" in refused("rack", "state_dir: /tmp/x\nregion: http://127.0.0.1:1\n")
    assert "give either --site FILE (standalone) or --region URL" in refused("rack", "state_dir: /tmp/x\nsite: /a\nregion: http://b\n")
    assert "cannot read" in refused("rack", "state_dir: /tmp/x\nregion: http://127.0.0.1:1\nsecret_file: /nonexistent/secret\n")


@needs_root
def test_rack_runs_unprivileged_with_three_capabilities(workdir):
    if shutil.which("setpriv") is None or shutil.which("dig") is None:
        pytest.skip("setpriv (util-linux) and dig (bind9-dnsutils) are needed")
    site = write(os.path.join(workdir, "site.yaml"), SITE)
    state = os.path.join(workdir, "state")
    os.makedirs(state, mode=0o700)
    os.chown(state, NOBODY.pw_uid, NOBODY.pw_gid)
    # The file asks for metrics on 15249; the environment moves it back to 5249.
    config = write(os.path.join(workdir, "rack.yaml"),
                   f"site: {site}\nstate_dir: {state}\ninterface: ra\nmetrics_port: 15249\naccess_log: true\n")
    os.chmod(workdir, 0o755)
    capabilities = "+net_bind_service,+net_raw,+net_admin"
    lab = Lab("ops")
    run("ip", "-n", lab.b, "addr", "add", "198.18.0.2/24", "dev", "cb")
    log_path = os.path.join(workdir, "rack.log")
    try:
        with open(log_path, "w") as log:
            rack = lab.spawn(lab.a, "env", "RACKPLANE_RACK_METRICS_PORT=5249",
                             "setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups",
                             f"--inh-caps={capabilities}", f"--ambient-caps={capabilities}",
                             f"--bounding-set=-all,{capabilities}",
                             RACKPLANE, "rack", "--config", config, stdout=log)
        deadline = time.monotonic() + 20
        while "serving with" not in open(log_path).read():
            assert rack.poll() is None, open(log_path).read()
            assert time.monotonic() < deadline, open(log_path).read()
            time.sleep(0.1)
        # The rack itself (ip and setpriv exec into it): nobody, with exactly three capabilities.
        status = dict(line.split(":\t", 1) for line in open(f"/proc/{rack.pid}/status").read().splitlines() if ":\t" in line)
        assert status["Uid"].split()[0] == str(NOBODY.pw_uid)
        wanted = (1 << 10) | (1 << 12) | (1 << 13)  # CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW
        assert int(status["CapEff"], 16) == wanted
        # Port 53 answers from namespace B, and the metrics moved where the environment said.
        answer = lab.exec_b("dig", "@198.18.0.1", "+short", "+time=2", "+tries=2", "www.maas.test", "A").stdout.split()
        assert answer == ["198.18.0.10"]
        assert lab.exec_a("curl", "-s", "-m", "5", "http://127.0.0.1:5249/healthz").stdout.strip() != ""
        assert lab.exec_a("curl", "-s", "-m", "2", "http://127.0.0.1:15249/healthz", check=False).returncode != 0
    finally:
        lab.close()


@needs_root
def test_backup_with_pg_dump_and_restore_into_a_new_region(workdir):
    old = RegionProcess()
    try:
        ids = populate(old)
        dump = os.path.join(workdir, "rackplane.dump")
        # docs/operations.md: pg_dump as the cluster's owner (postgres when the region is root).
        with open(dump, "wb") as out:
            subprocess.run(["runuser", "-u", "postgres", "--", "pg_dump", "-h", os.path.join(old.state, "postgres"), "-U", "postgres",
                            "-Fc", "rackplane"], stdout=out, check=True, timeout=120)
        old_token, old_secret = old.token, old.secret
        machines = sorted(m["hostname"] for m in old.api("GET", "/machines")[1])
    finally:
        old.stop()

    new = RegionProcess()
    try:
        assert new.api("GET", "/machines")[1] == []
        os.chmod(dump, 0o644)
        subprocess.run(["runuser", "-u", "postgres", "--", "pg_restore", "-h", os.path.join(new.state, "postgres"), "-U", "postgres",
                        "-d", "rackplane", "--clean", "--if-exists", dump], check=True, timeout=120, capture_output=True)
        new.stop(remove=False)
        again = RegionProcess(root=new.root)
        try:
            # The old model, its users and tokens, and its rack secret.
            again.token = old_token
            assert sorted(m["hostname"] for m in again.api("GET", "/machines")[1]) == machines
            assert again.api("GET", f"/machines/{ids['machines']['node-05']}")[1]["status"] == "commissioning"
            assert open(os.path.join(again.state, "rack-secret")).read().strip() == old_secret
            assert again.rack("/rack/enrol", {"name": "rack-a"})["id"] == ids["rack_a"]
        finally:
            again.stop()
    finally:
        new.stop()
