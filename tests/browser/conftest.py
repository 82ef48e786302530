"""Real-browser tests: Playwright for Python driving the system's Chromium.

Chromium is found at ``$HLT_CHROMIUM``, ``/usr/bin/chromium`` or on ``PATH`` (Debian:
``apt-get install chromium``; Playwright's own browser download is never used). Without it
the tests are *skipped* on a workstation and *fail* in CI: when the ``CI`` environment variable
is set (to anything but ``""``, ``0`` or ``false``) a missing browser is an error, so a CI
run can never pass by skipping them. Every test module here sets ``pytestmark =
pytest.mark.browser``: deselect them with ``-m "not slow and not browser"``.

Servers (Voila, JupyterLab) are started by the fixtures on 127.0.0.1 at a free port, waited
for with a bounded poll, and stopped with SIGTERM; whatever is left of them afterwards (their
process group, a kernel in a session of its own) is killed by process id. On a failure each test saves a full-page screenshot and the page's
HTML to ``$HLT_ARTIFACTS_DIR`` (default ``<system temp>/hlt-replicate-artifacts``); server
logs go to the same folder.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Flags measured to work here (``/work/shared/notes/environment-facts.md``): no sandbox as
#: root, no GPU, and no background connections to Google's services (refused offline).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_START_TIMEOUT = 90.0  # seconds for a server to answer
SERVER_STOP_TIMEOUT = 15.0  # seconds for a server to exit after SIGTERM


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: real-browser test (Chromium + Playwright); needs a browser in CI")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_chromium() -> str | None:
    """The Chromium executable, or None. ``HLT_CHROMIUM=none`` pretends there is none (to
    check the skip-or-fail rule)."""
    if os.environ.get("HLT_CHROMIUM", "").lower() == "none":
        return None
    for cand in (os.environ.get("HLT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


# --- failure artefacts -------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    d = Path(os.environ.get("HLT_ARTIFACTS_DIR") or Path(tempfile.gettempdir()) / "hlt-replicate-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


# --- the browser -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        msg = ("Chromium not found (looked at $HLT_CHROMIUM, /usr/bin/chromium, PATH); "
               "install it with `apt-get install -y chromium`")
        if in_ci():
            pytest.fail(f"{msg}. CI={os.environ.get('CI')!r}: browser tests must run in CI.", pytrace=False)
        pytest.skip(f"{msg}; skipped because CI is not set")
    return path


@pytest.fixture(scope="session")
def browser_context(chromium, tmp_path_factory):
    from playwright.sync_api import sync_playwright  # only needed once a browser is there

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=chromium, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        )
        try:
            yield ctx
        finally:
            ctx.close()


class Page:
    """A Playwright page that records every request leaving 127.0.0.1 (``external``) and
    uncaught page errors (``errors``)."""

    def __init__(self, page):
        self.page = page
        self.external: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _request(self, req) -> None:
        url = req.url
        if not re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/", url) and not url.startswith(("data:", "blob:", "about:")):
            self.external.append(url)


@pytest.fixture
def page(browser_context, artifacts_dir, request):
    pg = browser_context.new_page()
    pg.set_default_timeout(60_000)
    wrapped = Page(pg)
    try:
        yield wrapped
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-120:]
            try:
                pg.screenshot(path=str(artifacts_dir / f"{stem}.png"), full_page=True)
                (artifacts_dir / f"{stem}.html").write_text(pg.content())
                print(f"\nscreenshot and HTML saved to {artifacts_dir / stem}.(png|html)")
            except Exception as err:  # noqa: BLE001 - the test has failed already; report why no screenshot
                print(f"\ncould not save a screenshot: {err}")
        pg.close()


# --- servers -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own process group, with its output in a log file."""

    def __init__(self, name: str, cmd: list[str], url: str, log: Path, env: dict | None = None, cwd: Path = ROOT):
        self.name, self.url, self.log_path = name, url, log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait_ready(self, path: str = "/", timeout: float = SERVER_START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=3) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer at {self.url}{path} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        children = _descendants(self.proc.pid)  # kernels run in sessions of their own
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        # kernels and other children share the server's process group (start_new_session)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(1.0)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for pid, started in children:  # a kernel the server failed to shut down (same pid *and* start time)
            if _proc_table().get(pid, (None, None))[1] == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self._log.close()


def _proc_table() -> dict[int, tuple[int, int]]:
    """``{pid: (parent pid, start time)}`` from Linux's /proc (empty elsewhere)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            table[int(stat.parent.name)] = (int(fields[1]), int(fields[19]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def _descendants(pid: int) -> list[tuple[int, int]]:
    """``(pid, start time)`` of every live descendant of ``pid``."""
    table = _proc_table()
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, (pp, _) in table.items() if pp == p]
        out += [(c, table[c][1]) for c in kids]
        frontier += kids
    return out


@pytest.fixture(scope="session")
def trial_folder(chromium, tmp_path_factory) -> Path:
    """The synthetic trial of seed 0 written as ``python -m data_synth generate`` writes it.
    The Voila server is started on this folder (``--data``), so its kernels and this test
    process read the very same file, whatever the state of the on-disk trial cache."""
    from data_synth.io import write_trial
    from hlt_replicate import vocab
    from hlt_replicate.teaching import load_trial

    gen = load_trial(seed=0)
    folder = tmp_path_factory.mktemp("trial")
    write_trial(type(gen)(gen.data.drop(columns=[vocab.WEIGHT]), gen.truth, gen.manifest), folder)
    return folder


@pytest.fixture(scope="session")
def dashboard_data(trial_folder):
    """The data every dashboard shows (:func:`hlt_replicate.dashboards.load_data` of the folder)."""
    from hlt_replicate.dashboards import load_data

    return load_data(folder=trial_folder)


@pytest.fixture(scope="session")
def voila(chromium, trial_folder, artifacts_dir) -> str:
    """One Voila server for every dashboard, started with the documented command
    (``scripts/serve_dashboards.py --data DIR``); yields its base URL."""
    port = free_port()
    server = Server("voila", [sys.executable, str(ROOT / "scripts" / "serve_dashboards.py"), "--port", str(port),
                              "--data", str(trial_folder)], f"http://127.0.0.1:{port}", artifacts_dir / "voila.log")
    try:
        server.wait_ready("/")
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def jupyterlab(chromium, tmp_path, artifacts_dir):
    """A JupyterLab server rooted at a fresh folder (notebooks to open are copied there, so
    nothing in the checkout is touched), without token, news or update checks; yields
    ``(base_url, root_folder)``."""
    root, settings, workspaces, runtime = (tmp_path / d for d in ("root", "settings", "workspaces", "runtime"))
    for d in (root, settings, workspaces, runtime):
        d.mkdir()
    port = free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.port={port}",
           "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime))
    server = Server("jupyterlab", cmd, f"http://127.0.0.1:{port}", artifacts_dir / "jupyterlab.log", env=env)
    try:
        server.wait_ready("/api/status")
        yield server.url, root
    finally:
        server.stop()
