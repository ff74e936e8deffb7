"""A class on loopback: JupyterHub from classroom/jupyterhub_config.py under N simulated students.

Each student logs in (the hub's login form), starts a server, pulls the course with
the nbgitpuller link from a local git clone of this repository, and runs a lesson
through the single-user server's kernel API (REST + websocket, as JupyterLab does).
One student may be "planted": after the lesson it asks for a recording larger than
dltk's per-student memory budget and must get dltk's clear error while the others
keep running. Everything listens on 127.0.0.1, every loop is bounded in count and
time, and every process started is stopped at the end (also on failure).

Run by hand for a bigger class (the test runs N = 8):

    python -m tests.classroom.hubload --students 16 --mode fast
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import nbformat
import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "classroom" / "jupyterhub_config.py"
DEADLINE_S = 900  # the whole run, whatever happens

# what the planted student runs after the lesson: a recording far over the budget
PLANTED = """
import dltk, torch
lstm = dltk.lstmLayer(256, InputSize=12)
dltk.record(lstm, torch.zeros(1024, 100, 12))  # 7 signals of (1024, 100, 256): 734 MB
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chp() -> str:
    """The configurable-http-proxy command: the Makefile installs it in the venv; else PATH."""
    here = Path(sys.prefix) / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
    if here.exists():
        return str(here)
    from shutil import which

    found = which("configurable-http-proxy")
    if not found:
        raise RuntimeError("configurable-http-proxy not found: run `make install` (it installs it with npm)")
    return found


@dataclass
class StudentResult:
    name: str
    lesson: str
    planted: bool = False
    login_s: float = 0.0
    first_kernel_s: float = 0.0  # from login to an idle kernel
    lesson_s: float = 0.0
    cells: int = 0
    errors: list[str] = field(default_factory=list)
    planted_error: str = ""
    alive_after: bool = False
    cwd: str = ""
    kernel_peak_mb: float = 0.0
    peak_mb: float = 0.0  # server + kernel, sampled
    cpu_s: float = 0.0


@dataclass
class Report:
    students: int
    mode: str
    hub_peak_mb: float = 0.0
    proxy_peak_mb: float = 0.0
    hub_max_latency_s: float = 0.0
    hub_probes: int = 0
    hub_failures: int = 0
    wall_s: float = 0.0
    results: list[StudentResult] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            f"{len(self.results)} students, {self.mode} mode, wall {self.wall_s:.0f} s; "
            f"hub peak {self.hub_peak_mb:.0f} MB"
            f" (+ proxy {self.proxy_peak_mb:.0f} MB); hub answered {self.hub_probes - self.hub_failures}/"
            f"{self.hub_probes} probes, slowest {self.hub_max_latency_s:.2f} s",
            f"{'student':10s} {'lesson':34s} {'login s':>7s} {'1st kernel s':>12s} {'lesson s':>8s} "
            f"{'peak MB':>8s} {'kernel MB':>9s} {'CPU s':>6s}  result",
        ]
        for r in self.results:
            what = "ok" if not r.errors else f"ERROR {r.errors[0][:60]}"
            if r.planted:
                what += f"; planted: {r.planted_error[:40] or 'NO ERROR'}; alive={r.alive_after}"
            rows.append(
                f"{r.name:10s} {r.lesson:34s} {r.login_s:7.1f} {r.first_kernel_s:12.1f} {r.lesson_s:8.1f} "
                f"{r.peak_mb:8.0f} {r.kernel_peak_mb:9.0f} {r.cpu_s:6.1f}  {what}"
            )
        return "\n".join(rows)


class Hub:
    """JupyterHub + configurable-http-proxy on 127.0.0.1, stopped (with every server) on exit."""

    def __init__(self, workdir: Path, *, fast: bool = True, mem_limit: str = "2G") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.homes = workdir / "homes"
        self.homes.mkdir(parents=True, exist_ok=True)
        (workdir / "state").mkdir(exist_ok=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "JPY_"))},
            "DLTK_HUB_TEST": "1",
            "DLTK_HUB_IP": "127.0.0.1",
            "DLTK_HUB_PORT": str(self.port),
            "DLTK_HUB_HUB_PORT": str(free_port()),
            "DLTK_HUB_PROXY_API_PORT": str(free_port()),
            "DLTK_HUB_STATE": str(workdir / "state"),
            "DLTK_HUB_HOMES": str(self.homes),
            "DLTK_HUB_API_TOKEN": self.token,
            "DLTK_HUB_CHP": find_chp(),
            "DLTK_HUB_MEM_LIMIT": mem_limit,
            "DLTK_FAST": "1" if fast else "0",
            "MPLBACKEND": "Agg",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "hub.log"
        self.seen: set[int] = set()

    def __enter__(self) -> Hub:
        self._logf = open(self.log, "w")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
            cwd=self.workdir / "state",
            env=self.env,
            stdout=self._logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def processes(self) -> list[psutil.Process]:
        """The hub and everything it started (proxy, servers, kernels, culler)."""
        try:
            hub = psutil.Process(self.proc.pid)
            procs = [hub, *hub.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        # single-user servers start in their own session: find them by their home folder
        for p in psutil.process_iter(["pid", "cwd"]):
            try:
                if p.info["cwd"] and p.info["cwd"].startswith(str(self.homes)):
                    procs.append(p)
                    procs.extend(p.children(recursive=True))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        unique = list({p.pid: p for p in procs}.values())  # a kernel is both a child and under a home
        self.seen.update(p.pid for p in unique)
        return unique

    def __exit__(self, *exc) -> None:
        self.processes()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the hub stops the servers (cleanup_servers) and the proxy
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.seen:  # whatever is left: gone
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        self._logf.close()

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


class Sampler(threading.Thread):
    """Samples memory of the hub, the proxy and each student's server + kernels; probes the hub API."""

    def __init__(self, hub: Hub, report: Report, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.hub, self.report, self.period = hub, report, period
        self.stop = threading.Event()
        self.peaks: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @staticmethod
    def _user_of(p: psutil.Process) -> str | None:
        try:
            return p.environ().get("JUPYTERHUB_USER")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def run(self) -> None:
        import requests

        next_probe = 0.0
        while not self.stop.is_set():
            per_user: dict[str, float] = {}
            cpu: dict[str, float] = {}
            for p in self.hub.processes():
                try:
                    rss = p.memory_info().rss / 2**20
                    cmd = " ".join(p.cmdline())
                    user = self._user_of(p)
                    times = p.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                if user:
                    per_user[user] = per_user.get(user, 0.0) + rss
                    cpu[user] = cpu.get(user, 0.0) + times.user + times.system
                elif "configurable-http-proxy" in cmd:
                    self.report.proxy_peak_mb = max(self.report.proxy_peak_mb, rss)
                elif p.pid == self.hub.proc.pid:
                    self.report.hub_peak_mb = max(self.report.hub_peak_mb, rss)
            for u, mb in per_user.items():
                self.peaks[u] = max(self.peaks.get(u, 0.0), mb)
            for u, s in cpu.items():  # processes only grow their CPU time; keep the largest sum seen
                self.cpu[u] = max(self.cpu.get(u, 0.0), s)
            if time.monotonic() >= next_probe:
                next_probe = time.monotonic() + 1.0
                t0 = time.perf_counter()
                self.report.hub_probes += 1
                try:
                    r = requests.get(f"{self.hub.url}/hub/api/", timeout=10)
                    ok = r.status_code == 200
                except requests.RequestException:
                    ok = False
                self.report.hub_failures += not ok
                self.report.hub_max_latency_s = max(self.report.hub_max_latency_s, time.perf_counter() - t0)
            self.stop.wait(self.period)


class Student:
    def __init__(self, hub: Hub, name: str, lesson: str, repo: Path, planted: bool = False) -> None:
        self.hub, self.name, self.repo = hub, name, repo
        self.result = StudentResult(name=name, lesson=lesson, planted=planted)
        self.http = AsyncHTTPClient()
        self.cookies: dict[str, str] = {}

    def _headers(self, token: bool = True) -> dict[str, str]:
        h = {"Authorization": f"token {self.hub.token}"} if token else {}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return h

    async def api(self, method: str, path: str, body: dict | None = None, ok=(200, 201, 202, 204)):
        req = HTTPRequest(
            self.hub.url + path,
            method=method,
            headers={**self._headers(), "Content-Type": "application/json"},
            body=json.dumps(body) if body is not None else (b"" if method in ("POST", "PUT", "PATCH") else None),
            request_timeout=120,
            follow_redirects=False,
        )
        resp = await self.http.fetch(req, raise_error=False)
        if resp.code not in ok:
            raise RuntimeError(f"{self.name}: {method} {path} -> {resp.code} {resp.body[:300]!r}")
        return json.loads(resp.body) if resp.body else None

    def _keep_cookies(self, resp) -> None:
        for raw in resp.headers.get_list("Set-Cookie"):
            k, _, rest = raw.partition("=")
            self.cookies[k.strip()] = rest.split(";", 1)[0]

    async def login(self) -> None:
        """The hub's login form, as a browser fills it (DummyAuthenticator: any password)."""
        page = await self.http.fetch(f"{self.hub.url}/hub/login", raise_error=False, follow_redirects=False)
        self._keep_cookies(page)
        m = re.search(rb'name="_xsrf" value="([^"]+)"', page.body or b"")
        form = {"username": self.name, "password": "class"}
        if m:
            form["_xsrf"] = m.group(1).decode()
        resp = await self.http.fetch(
            HTTPRequest(
                f"{self.hub.url}/hub/login",
                method="POST",
                body=urlencode(form),
                headers=self._headers(token=False),
                follow_redirects=False,
            ),
            raise_error=False,
        )
        if resp.code != 302:
            raise RuntimeError(f"{self.name}: login answered {resp.code}")
        self._keep_cookies(resp)

    async def start_server(self) -> None:
        await self.api("POST", f"/hub/api/users/{self.name}/server", ok=(201, 202, 400))
        for _ in range(480):  # ≤ 240 s
            user = await self.api("GET", f"/hub/api/users/{self.name}")
            server = (user.get("servers") or {}).get("")
            if server and server.get("ready"):
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"{self.name}: server not ready after 240 s")

    async def pull(self) -> None:
        """nbgitpuller's link, as the student's browser follows it (its event-stream API)."""
        query = urlencode({"repo": f"file://{self.repo}", "branch": "main", "targetpath": "dltk"})
        chunks: list[bytes] = []
        resp = await self.http.fetch(
            HTTPRequest(
                f"{self.hub.url}/user/{self.name}/git-pull/api?{query}",
                headers=self._headers(),
                request_timeout=300,
                streaming_callback=chunks.append,
            ),
            raise_error=False,
        )
        text = b"".join(chunks).decode(errors="replace")
        if resp.code != 200 or '"phase": "finished"' not in text.replace('"phase":"finished"', '"phase": "finished"'):
            raise RuntimeError(f"{self.name}: nbgitpuller failed ({resp.code}): {text[-400:]}")

    async def run_cells(self, kernel: str, sources: list[str], stop_on_error: bool = True) -> list[dict]:
        url = f"ws://127.0.0.1:{self.hub.port}/user/{self.name}/api/kernels/{kernel}/channels"
        ws = await websocket_connect(HTTPRequest(url, headers=self._headers()), max_message_size=256 * 2**20)
        replies = []
        try:
            session = uuid.uuid4().hex
            for src in sources:
                msg_id = uuid.uuid4().hex
                ws.write_message(
                    json.dumps(
                        {
                            "header": {
                                "msg_id": msg_id,
                                "username": self.name,
                                "session": session,
                                "msg_type": "execute_request",
                                "version": "5.3",
                            },
                            "parent_header": {},
                            "metadata": {},
                            "content": {"code": src, "silent": False, "store_history": True, "allow_stdin": False},
                            "channel": "shell",
                            "buffers": [],
                        }
                    )
                )
                reply, outputs, idle = None, [], False
                while reply is None or not idle:  # outputs may arrive after the reply: wait for 'idle'
                    raw = await asyncio.wait_for(ws.read_message(), timeout=600)
                    if raw is None:
                        raise RuntimeError(f"{self.name}: kernel websocket closed")
                    if isinstance(raw, bytes):  # binary frames carry widget buffers: not needed here
                        continue
                    m = json.loads(raw)
                    if m.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    if m["msg_type"] in ("stream", "error", "execute_result"):
                        outputs.append(m["content"])
                    if m["msg_type"] == "execute_reply":
                        reply = m["content"]
                    if m["msg_type"] == "status" and m["content"].get("execution_state") == "idle":
                        idle = True
                replies.append({"reply": reply, "outputs": outputs})
                if reply["status"] != "ok" and stop_on_error:
                    break
        finally:
            ws.close()
        return replies

    def say(self, what: str) -> None:
        if os.environ.get("DLTK_HUBLOAD_VERBOSE"):
            print(f"{time.strftime('%H:%M:%S')} {self.name}: {what}", file=sys.stderr, flush=True)

    async def lesson(self) -> None:
        r = self.result
        t0 = time.perf_counter()
        await self.login()
        r.login_s = time.perf_counter() - t0
        self.say("logged in")
        await self.start_server()
        self.say("server ready")
        await self.pull()
        self.say("course pulled")
        path = f"dltk/lessons/{r.lesson}"
        nb = await self.api("GET", f"/user/{self.name}/api/contents/{quote(path)}?content=1")
        nb = nbformat.from_dict(nb["content"])
        kernel = (await self.api("POST", f"/user/{self.name}/api/kernels", {"name": "python3"}))["id"]
        self.say("kernel started")
        await self.run_cells(kernel, ["1"])
        r.first_kernel_s = time.perf_counter() - t0
        self.say("kernel answered")
        setup = (
            "import os\nos.chdir('dltk/lessons')\n"
            "open('whoami.txt', 'w').write(os.environ.get('JUPYTERHUB_USER', ''))\n"
            "print('CWD', os.getcwd())"
        )
        sources = [setup] + [c.source for c in nb.cells if c.cell_type == "code"]
        t1 = time.perf_counter()
        replies = await self.run_cells(kernel, sources)
        r.lesson_s = time.perf_counter() - t1
        self.say(f"lesson ran ({len(replies)} cells)")
        r.cells = len(replies) - 1
        for rep in replies:
            if rep["reply"]["status"] != "ok":
                r.errors.append(f"{rep['reply'].get('ename')}: {rep['reply'].get('evalue')}")
        for out in replies[0]["outputs"]:
            if "CWD" in out.get("text", ""):
                r.cwd = out["text"].split("CWD", 1)[1].strip()
        if r.planted:
            rep = (await self.run_cells(kernel, [PLANTED], stop_on_error=False))[0]
            if rep["reply"]["status"] != "ok":
                r.planted_error = f"{rep['reply'].get('ename')}: {rep['reply'].get('evalue')}"
        probe = "import resource; print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
        rep = (await self.run_cells(kernel, [probe], stop_on_error=False))[0]
        r.alive_after = rep["reply"]["status"] == "ok"
        for out in rep["outputs"]:
            if "PEAK" in out.get("text", ""):
                r.kernel_peak_mb = float(out["text"].split()[1])

    async def run(self) -> StudentResult:
        try:
            await self.lesson()
        except Exception as e:  # noqa: BLE001 - a student's failure is reported, not raised
            self.result.errors.append(f"{type(e).__name__}: {e}")
        return self.result


def local_clone(dest: Path) -> Path:
    """The course as a teacher publishes it: a git clone of this repository (committed state)."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", "-B", "main"], check=True)
    return dest


def lesson_names(patterns=("02_", "04_")) -> list[str]:
    names = sorted(p.name for p in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
    return [next(n for n in names if n.startswith(p)) for p in patterns]


async def _class(hub: Hub, n: int, repo: Path, planted: int | None) -> list[StudentResult]:
    lessons = lesson_names()
    students = [
        Student(hub, f"student{i:02d}", lessons[i % len(lessons)], repo, planted=(i == planted)) for i in range(n)
    ]
    return list(await asyncio.gather(*(s.run() for s in students)))


def run_class(n: int = 8, *, fast: bool = True, planted: int | None = 1, workdir: Path | None = None) -> Report:
    """Start the hub, run n students at once, stop everything; returns the measured report."""
    tmp = tempfile.TemporaryDirectory(prefix="dltk-hub-") if workdir is None else None
    work = Path(tmp.name) if tmp else workdir
    report = Report(students=n, mode="fast" if fast else "full")
    try:
        repo = local_clone(work / "course.git")
        with Hub(work, fast=fast) as hub:
            import requests

            t_end = time.monotonic() + 60
            while time.monotonic() < t_end:
                try:
                    if requests.get(f"{hub.url}/hub/api/", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if hub.proc.poll() is not None:
                    raise RuntimeError(f"JupyterHub exited:\n{hub.log_tail()}")
                time.sleep(0.5)
            else:
                raise RuntimeError(f"JupyterHub did not answer in 60 s:\n{hub.log_tail()}")
            # one HTTP client per event loop is shared by every student: room for all their requests
            AsyncHTTPClient.configure(None, max_clients=max(16, 4 * n))
            sampler = Sampler(hub, report)
            sampler.start()
            t0 = time.perf_counter()
            try:
                loop = asyncio.new_event_loop()
                try:
                    results = loop.run_until_complete(
                        asyncio.wait_for(_class(hub, n, repo, planted), timeout=DEADLINE_S)
                    )
                finally:
                    loop.close()
            finally:
                sampler.stop.set()
                sampler.join(10)
            report.wall_s = time.perf_counter() - t0
            for r in results:
                r.peak_mb = sampler.peaks.get(r.name, 0.0)
                r.cpu_s = sampler.cpu.get(r.name, 0.0)
                whoami = hub.homes / r.name / "dltk" / "lessons" / "whoami.txt"
                if not whoami.exists() or whoami.read_text() != r.name:
                    r.errors.append(f"files: {whoami} missing or written by another student")
                if r.cwd and not r.cwd.startswith(str(hub.homes / r.name)):
                    r.errors.append(f"files: kernel ran in {r.cwd}, outside the student's home")
            report.results = results
            report.hub_log_tail = hub.log_tail()  # type: ignore[attr-defined]
    finally:
        if tmp:
            tmp.cleanup()
    return report


def save(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(report)
    path.write_text(json.dumps(data, indent=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=8)
    ap.add_argument("--mode", choices=["fast", "full"], default="fast")
    ap.add_argument("--no-planted", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "classroom")
    args = ap.parse_args(argv)
    report = run_class(args.students, fast=args.mode == "fast", planted=None if args.no_planted else 1)
    print(report.table())
    save(report, args.out / f"load-{args.students}-{args.mode}.json")
    return 0 if all(not r.errors for r in report.results) else 1


if __name__ == "__main__":
    sys.exit(main())
