"""Fixtures for the browser tests: one JupyterLab server and one headless Chromium per session.

Everything is hermetic: a temporary JUPYTER_CONFIG_DIR / JUPYTER_DATA_DIR / JUPYTER_RUNTIME_DIR,
JupyterLab user settings, workspaces and an app settings directory holding ``overrides.json``; the
server listens on 127.0.0.1 on a random free port with a random token; Chromium runs with a new empty
profile and with the flags that keep it off the network. The notebooks are served from *copies* (so
nothing the browser does, autosave included, can write into ``notebooks/``), next to symlinks to the
rest of the repository so relative paths in a notebook (``../benchmarks/...``) resolve as in CI.

The server, its kernels and the browser are stopped by PID in the fixture finalisers, even when a
test fails.

Environment variables (see README.md):
    LINATTN_SKIP_BROWSER=1        skip the suite (the reason is printed)
    LINATTN_CHROMIUM=/path        the Chromium binary (default /usr/bin/chromium)
    LINATTN_BROWSER_NOTEBOOKS=dir serve the notebooks of another folder (default: notebooks/)
    LINATTN_BROWSER_HEADED=1      show the browser window (needs a display)
    LINATTN_BROWSER_SLOWMO=ms     pause ms milliseconds between browser actions
"""
import json
import os
import secrets
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

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "apt-get update && apt-get install -y chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def notebook_dir():
    """Where the notebooks under test live (LINATTN_BROWSER_NOTEBOOKS overrides notebooks/)."""
    return Path(os.environ.get("LINATTN_BROWSER_NOTEBOOKS", REPO / "notebooks")).resolve()


SKIP_REASON = "LINATTN_SKIP_BROWSER=1 is set: the JupyterLab + Chromium browser tests are skipped"


def _skip_requested():
    return os.environ.get("LINATTN_SKIP_BROWSER") == "1"


def pytest_report_header(config):
    if _skip_requested():
        return f"browser tests: SKIPPED ({SKIP_REASON})"
    return None


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if _skip_requested():
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


# --------------------------------------------------------------------------------------------------
# process helpers: everything is stopped by PID


def _children(pid):
    """PIDs of all descendants of pid (read from /proc; kernels run in their own session)."""
    parent_of = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    # the command name may contain spaces: the ppid is the 2nd field after ')'
                    parent_of[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent_of.items() if pp == p]
        found += kids
        frontier += kids
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stop(proc, extra_pids=(), grace=10.0):
    """SIGTERM proc and the given PIDs, wait up to grace seconds, then SIGKILL whatever is left."""
    pids = [proc.pid, *extra_pids]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        proc.poll()
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------------
# Chromium


@pytest.fixture(scope="session")
def chromium_path():
    if _skip_requested():
        pytest.skip(SKIP_REASON)
    path = os.environ.get("LINATTN_CHROMIUM", DEFAULT_CHROMIUM)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {path}. The browser tests need Debian's Chromium: install it with\n"
            f"    {INSTALL_HINT}\n"
            "(or point LINATTN_CHROMIUM at a Chromium binary; set LINATTN_SKIP_BROWSER=1 to skip on purpose).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def tmp_session_dir():
    d = Path(tempfile.mkdtemp(prefix="linattn-browser-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def browser(chromium_path, tmp_session_dir):
    """One Chromium for the whole session, started by us (so we own its PID), driven over CDP."""
    from playwright.sync_api import sync_playwright

    headed = os.environ.get("LINATTN_BROWSER_HEADED") == "1"
    slow_mo = float(os.environ.get("LINATTN_BROWSER_SLOWMO", "0") or 0)
    profile = tmp_session_dir / "chromium-profile"
    profile.mkdir()
    args = [
        chromium_path,
        *([] if headed else ["--headless"]),
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
        "--disable-dev-shm-usage", "--mute-audio", "--window-size=1400,1000",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # offline: only the local server
        f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        "about:blank",
    ]
    log = open(tmp_session_dir / "chromium.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    pw = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (tmp_session_dir / "chromium.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Chromium ({chromium_path}) did not start its DevTools endpoint:\n{tail}", pytrace=False)
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        pw = sync_playwright().start()
        b = pw.chromium.connect_over_cdp(f"http://127.0.0.1:{port}", slow_mo=slow_mo)
        yield b
    finally:
        try:
            if pw is not None:
                pw.stop()
        finally:
            _stop(proc, _children(proc.pid), grace=5)
            log.close()


# --------------------------------------------------------------------------------------------------
# JupyterLab

OVERRIDES = {
    # JupyterLab 4.6's own default, written out so that a lab with another default measures the same:
    # every cell is attached to the DOM (the checks find them all) and off-screen cells get CSS
    # content-visibility: auto, so the browser skips their layout and paint. "none" (every cell laid out
    # and painted) made each slider move repaint the whole notebook page: 31 ms of paint per move against
    # 6 ms, nb01, headless Chromium 150 trace, 8 moves each (measured 2026-12-03).
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "contentVisibility"},
    # No news toast, no update check, no toasts over the notebook.
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True,
    },
    # Never write the (copied) notebook back.
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
}
PAGE_CONFIG = {
    "disabledExtensions": {
        "@jupyterlab/apputils-extension:announcements": True,
        "@jupyterlab/extensionmanager-extension": True,
    }
}
SERVER_CONFIG = {
    "LabApp": {"news_url": None, "expose_app_in_browser": True,
               "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
    "ServerApp": {"terminals_enabled": False, "jpserver_extensions": {"jupyter_lsp": False}},
}


class LabServer:
    def __init__(self, url, token, root):
        self.url, self.token, self.root = url, token, root

    def api(self, method, path, timeout=10):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def sessions(self):
        return self.api("GET", "/api/sessions")



def _mirror_repo(root, notebooks):
    """root/notebooks holds copies of the notebooks; every other top-level repo entry is a symlink."""
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in {"notebooks", ".git", ".venv"}:
            (root / entry.name).symlink_to(entry)
    shutil.copytree(notebooks, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))


@pytest.fixture(scope="session")
def lab_server(chromium_path, tmp_session_dir):
    """A real `jupyter lab` on 127.0.0.1:<free port> with a token, hermetic config; stopped by PID."""
    base = tmp_session_dir
    root = base / "root"
    _mirror_repo(root, notebook_dir())
    for d in ["config/labconfig", "data", "runtime", "lab-user-settings", "lab-workspaces",
              "lab-app/settings", "ipython"]:
        (base / d).mkdir(parents=True)
    (base / "lab-app/settings/overrides.json").write_text(json.dumps(OVERRIDES, indent=1))
    (base / "config/labconfig/page_config.json").write_text(json.dumps(PAGE_CONFIG, indent=1))
    (base / "config/jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG, indent=1))

    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "lab-user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "lab-workspaces"),
        IPYTHONDIR=str(base / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    # nothing from the caller's Jupyter setup; and no MPLBACKEND=Agg (common in CI) that would stop
    # the kernel from using the inline backend, i.e. from showing any figure
    for var in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH", "MPLBACKEND"):
        env.pop(var, None)
    # one BLAS thread per kernel, as the Makefile exports: run straight from pytest, a kernel's threaded
    # BLAS fights the browser for the 2 cores and a panel's move took 10x longer (nb05: 329 ms, not 37)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    port, token = _free_port(), secrets.token_hex(24)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.app_settings_dir={base / 'lab-app/settings'}",
        "--ContentsManager.pre_save_hook=linattn_edu.panels._lab.strip_on_save",   # as `make lab` runs it
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # jupyter refuses to run as root without it (CI containers)
    log_path = base / "jupyter.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    server = LabServer(f"http://127.0.0.1:{port}", token, root)
    server.log_path = log_path
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n"
                            f"{log_path.read_text(errors='replace')[-4000:]}", pytrace=False)
            try:
                server.api("GET", "/api/status", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer on port {port} within 90 s:\n"
                                f"{log_path.read_text(errors='replace')[-4000:]}", pytrace=False)
                time.sleep(0.2)
        yield server
    finally:
        try:  # shut the kernels down cleanly first
            for s in server.sessions():
                server.api("DELETE", f"/api/sessions/{s['id']}")
        except Exception:
            pass
        _stop(proc, _children(proc.pid), grace=10)
        log.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def screenshot_dir():
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
