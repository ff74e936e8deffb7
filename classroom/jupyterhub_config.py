# JupyterHub for a dltk class on one VM (see classroom/README.md).
#
#   jupyterhub -f classroom/jupyterhub_config.py
#
# The hub, configurable-http-proxy and one single-user server per student run on
# this machine. Students open the course through an nbgitpuller link (printed by
# `python -m dltk classroom-link`), which clones or updates the lessons in their
# home folder without touching their own changes.
#
# Settings a teacher changes are read from the environment so that the same file
# serves the class and the loopback load test (tests/classroom/):
#
#   DLTK_HUB_IP / DLTK_HUB_PORT      where the proxy listens (default 0.0.0.0:8000;
#                                    put TLS in front, e.g. nginx or Caddy)
#   DLTK_HUB_MEM_LIMIT               memory per student (default "2G"), enforced by
#                                    SystemdSpawner (cgroups); see the guide for sizing
#   DLTK_HUB_CPU_LIMIT               CPUs per student (default 1.0)
#   DLTK_HUB_CULL_IDLE               seconds a server may idle before it is stopped (3600)
#   DLTK_HUB_ADMINS                  comma-separated admin (teacher) user names
#   DLTK_HUB_TEST=1                  loopback test mode: any user logs in (DummyAuthenticator),
#                                    servers run as the hub's user with homes under
#                                    DLTK_HUB_HOMES (SimpleLocalProcessSpawner). Never in a class.
import os
import sys

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

env = os.environ.get
TEST = env("DLTK_HUB_TEST", "") == "1"
services: list[dict] = []
roles: list[dict] = []


def _bytes(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text.strip().upper()
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


MEM_LIMIT = env("DLTK_HUB_MEM_LIMIT", "2G")
CPU_LIMIT = float(env("DLTK_HUB_CPU_LIMIT", "1.0"))
CULL_IDLE = int(env("DLTK_HUB_CULL_IDLE", "3600"))

# --- network -----------------------------------------------------------------------
c.JupyterHub.ip = env("DLTK_HUB_IP", "0.0.0.0")
c.JupyterHub.port = int(env("DLTK_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"  # hub API only on loopback; the proxy is the way in
if env("DLTK_HUB_HUB_PORT"):
    c.JupyterHub.hub_port = int(env("DLTK_HUB_HUB_PORT"))
if env("DLTK_HUB_PROXY_API_PORT"):
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('DLTK_HUB_PROXY_API_PORT')}"
if env("DLTK_HUB_CHP"):  # path of the configurable-http-proxy command (the Makefile installs one)
    c.ConfigurableHTTPProxy.command = [env("DLTK_HUB_CHP")]
c.JupyterHub.cleanup_servers = True
if env("DLTK_HUB_STATE"):  # folder for the hub's database, cookie secret and logs
    state = env("DLTK_HUB_STATE")
    c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
    c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
    c.ConfigurableHTTPProxy.pid_file = f"{state}/jupyterhub-proxy.pid"

# --- students' servers ---------------------------------------------------------------
c.Spawner.default_url = "/lab"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]  # the environment dltk is installed in
c.Spawner.mem_limit = MEM_LIMIT
c.Spawner.cpu_limit = CPU_LIMIT
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
c.Spawner.environment = {
    # one CPU per student: more threads only spin (see the guide)
    "OMP_NUM_THREADS": str(max(1, int(CPU_LIMIT))),
    "MKL_NUM_THREADS": str(max(1, int(CPU_LIMIT))),
    # a recording may use at most a quarter of the student's memory: a too-large
    # recording gets dltk's clear budget error instead of killing the kernel
    "DLTK_RECORD_BUDGET_MB": str(max(64, _bytes(MEM_LIMIT) // 4 // 2**20)),
    "DLTK_FAST": env("DLTK_FAST", "0"),
}

if TEST:
    from jupyterhub.auth import DummyAuthenticator
    from jupyterhub.spawner import SimpleLocalProcessSpawner

    c.JupyterHub.authenticator_class = DummyAuthenticator
    c.Authenticator.allow_all = True
    c.JupyterHub.spawner_class = SimpleLocalProcessSpawner
    c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(env("DLTK_HUB_HOMES", "/tmp/dltk-hub"), "{username}")
    c.Spawner.args = ["--ServerApp.ip=127.0.0.1"] + (["--allow-root"] if os.geteuid() == 0 else [])
    c.JupyterHub.concurrent_spawn_limit = 0  # the load test starts every student at once
    if env("DLTK_HUB_API_TOKEN"):  # the test drives the hub through its REST API
        services.append({"name": "loadtest", "api_token": env("DLTK_HUB_API_TOKEN")})
        roles.append(
            {
                "name": "loadtest",
                "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"],
                "services": ["loadtest"],
            }
        )
else:
    # Real isolation and hard limits: every student is a system user, each server a systemd unit
    # whose cgroup enforces MemoryMax (mem_limit) and CPUQuota (cpu_limit).
    #   pip install jupyterhub-systemdspawner
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.isolate_devices = True
    c.SystemdSpawner.disable_user_sudo = True
    # Log in with the university's accounts (e.g. oauthenticator's GenericOAuthenticator);
    # PAM (system accounts) is JupyterHub's default.
    c.Authenticator.admin_users = {u for u in env("DLTK_HUB_ADMINS", "").split(",") if u}
    c.Authenticator.allow_existing_users = True

# --- idle culling: a server nobody uses gives its memory back ------------------------
roles.append(
    {
        "name": "jupyterhub-idle-culler-role",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["jupyterhub-idle-culler-service"],
    }
)
services.append(
    {
        "name": "jupyterhub-idle-culler-service",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={CULL_IDLE}", "--cull-every=60"],
    }
)
c.JupyterHub.load_roles = roles
c.JupyterHub.services = services
