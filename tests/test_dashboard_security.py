"""The dashboard's own safety: nothing rendered as HTML, safe server options from any folder, the Host guard.

The real-browser check that a cohort of script payloads runs no script is
tests/e2e/test_xss_browser.py; training jobs and run folders are
tests/test_dashboard_jobs.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import socket
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from memamba_core.app.server import HostGuard, host_allowed, unsafe_options
from tests.e2e.driver import free_port

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "dashboard"
HOME = str(DASHBOARD / "Home.py")

# --- nothing is rendered as HTML --------------------------------------------------------------------------------

FORBIDDEN = ("unsafe_allow_html", "st.html", "components.html", "components.v1.html", "st.components.v1.html")


def test_dashboard_renders_no_raw_html():
    """No page or helper may hand HTML to the browser: every user string goes through elements that do not
    interpret it (or the one markdown-escaping helper, memamba_core.app.text)."""
    hits = []
    for f in sorted(DASHBOARD.rglob("*.py")):
        text = f.read_text(encoding="utf-8")
        hits += [f"{f.relative_to(REPO)}: {w}" for w in FORBIDDEN if w in text]
    assert not hits, hits
    assert list(DASHBOARD.rglob("*.py")), "no dashboard sources found"


@pytest.mark.parametrize("raw", [
    "<img src=x onerror=\"window.__pwned=1\">", "[x](javascript:alert(1))", "![](http://evil.example/a.png)",
    ":red[pwned] :material/home: :smile:", "$x^2$", "# heading", "- item", "+ item", "> quote", "1. item", " 12) item",
    "**bold** _it_ ~~s~~ `code` (_x_) __init__", "a | b", "&lt;b&gt;", "www.evil.example http://evil.example a@evil.example",
    "back\\slash", "two\nlines\r\tend",
])
def test_md_escapes_every_markdown_meaning(raw):
    from memamba_core.app.text import WORD_JOINER, md

    out = md(raw).replace(WORD_JOINER, "")
    assert "\n" not in out and "\r" not in out and "\t" not in out
    plain, escaped = [], []  # the text with the escapes removed; whether each character was escaped
    i = 0
    while i < len(out):
        if out[i] == "\\":
            assert out[i + 1] in string.punctuation, out
            plain.append(out[i + 1]), escaped.append(True)
            i += 2
        else:
            plain.append(out[i]), escaped.append(False)
            i += 1
    text = "".join(plain)
    assert text == raw.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    for k, ch in enumerate(text):
        prev, nxt = text[k - 1] if k else "", text[k + 1] if k + 1 < len(text) else ""
        must = (ch in "\\`*[]<>&~|$" or (ch == "_" and not (prev.isalnum() and nxt.isalnum()))
                or (ch == ":" and nxt not in ("", " ", "/")))
        assert escaped[k] or not must, (raw, out, k, ch)
    first = len(text) - len(text.lstrip())
    assert escaped[first] or text[first] not in "#+->=", out
    m = re.match(r" *\d+[.)]", text)
    assert not m or escaped[m.end() - 1], out


def test_md_keeps_plain_messages_readable():
    from memamba_core.app.text import md, md_join

    msg = "/data/my_run-01/table_v2.csv: cannot be read (C error: EOF); rerun it."
    assert md(msg) == msg
    assert md_join(["a.b", "c_d"]) == "a.b · c_d"
    assert md("5-fold run, 3.5 mo") == "5-fold run, 3.5 mo"


def test_md_breaks_autolinks():
    from memamba_core.app.text import WORD_JOINER as WJ, md

    assert md("https://e.x") == f"https:{WJ}//e.x"
    assert md("WWW.e.x") == f"WWW{WJ}.e.x"
    assert md("a@e.x") == f"a{WJ}@e.x"


# --- the Host guard (DNS rebinding) -----------------------------------------------------------------------------

@pytest.mark.parametrize("host,ok", [
    ("localhost:8501", True), ("127.0.0.1:8501", True), ("[::1]:8501", True), ("LOCALHOST:8501", True),
    ("localhost.:8501", True), ("localhost", False), ("localhost:8502", False), ("evil.example:8501", False),
    ("evil.example", False), ("127.0.0.1.evil.example:8501", False), ("user@localhost:8501", False),
    ("localhost:8501/x", False), ("localhost:85x1", False), ("", False), (None, False), ("0.0.0.0:8501", False),
    ("localhost :8501", False),
])
def test_host_allowed(host, ok):
    assert host_allowed(host, 8501) is ok


def test_remote_deployment_names_are_allowed_only_when_declared():
    assert not host_allowed("dash.example.org", 8501)
    assert host_allowed("dash.example.org", 8501, extra=("dash.example.org",))
    assert host_allowed("dash.example.org:443", 8501, extra=("dash.example.org",))
    assert not host_allowed("evil.example", 8501, extra=("dash.example.org",))


def _call(guard: HostGuard, kind: str, headers: list[tuple[bytes, bytes]], port: int = 8501):
    sent, reached = [], []

    async def inner(scope, receive, send):
        reached.append(scope["type"])

    async def send(msg):
        sent.append(msg)

    async def receive():
        return {"type": "http.request"}

    scope = {"type": kind, "headers": headers, "server": ("127.0.0.1", port), "path": "/"}
    asyncio.run(HostGuard(inner, **guard)(scope, receive, send))
    return reached, sent


def test_host_guard_middleware():
    ok, sent = _call({}, "http", [(b"host", b"localhost:8501")])
    assert ok == ["http"] and not sent
    ok, sent = _call({}, "http", [(b"host", b"evil.example:8501")])
    assert not ok and sent[0]["status"] == 403 and b"DNS rebinding" in sent[1]["body"]
    ok, sent = _call({}, "websocket", [(b"host", b"evil.example:8501")])
    assert not ok and sent == [{"type": "websocket.close", "code": 1008}]
    ok, sent = _call({}, "http", [(b"host", b"localhost:8501"), (b"host", b"evil.example")])  # ambiguous
    assert not ok and sent[0]["status"] == 403
    ok, sent = _call({}, "http", [])  # no Host at all
    assert not ok
    ok, _ = _call({"extra": ("dash.example.org",)}, "websocket", [(b"host", b"dash.example.org")])
    assert ok == ["websocket"]
    ok, _ = _call({}, "lifespan", [])
    assert ok == ["lifespan"]


# --- the options in force ---------------------------------------------------------------------------------------

SAFE = {"server.address": "localhost", "browser.gatherUsageStats": False, "server.enableXsrfProtection": True}


def test_unsafe_options_say_how_to_fix():
    assert unsafe_options(SAFE.get, {}) == []
    assert unsafe_options({**SAFE, "server.address": "127.0.0.1"}.get, {}) == []
    got = unsafe_options({"server.address": None, "browser.gatherUsageStats": True,
                          "server.enableXsrfProtection": False}.get, {})
    assert len(got) == 3
    assert "all network interfaces" in got[0] and "--server.address localhost" in got[0]
    assert "--browser.gatherUsageStats false" in got[1] and "--server.enableXsrfProtection true" in got[2]
    remote = {**SAFE, "server.address": "0.0.0.0"}
    assert len(unsafe_options(remote.get, {})) == 1
    assert unsafe_options(remote.get, {"MEMAMBA_ALLOWED_HOSTS": "dash.example.org"}) == []
    # a deliberate remote deployment still needs statistics off and XSRF on
    assert len(unsafe_options({**remote, "browser.gatherUsageStats": True}.get,
                              {"MEMAMBA_ALLOWED_HOSTS": "dash.example.org"})) == 1


@contextlib.contextmanager
def _options(**opts):
    from streamlit import config

    old = {k: config.get_option(k) for k in opts}
    try:
        for k, v in opts.items():
            config.set_option(k, v)
        yield
    finally:
        for k, v in old.items():
            config.set_option(k, v)


def test_home_refuses_patient_data_when_the_server_is_unsafe(app_env, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("MEMAMBA_ALLOWED_HOSTS", raising=False)
    with _options(**{"server.address": "0.0.0.0", "browser.gatherUsageStats": True}):
        at = AppTest.from_file(HOME, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and "not started safely" in at.error[0].value
    warnings = [w.value for w in at.warning]
    assert any("all network interfaces" in w for w in warnings) and any("gatherUsageStats" in w for w in warnings)
    assert not at.metric and not at.table  # no cohort summary, no model card
    at = AppTest.from_file(HOME, default_timeout=120).run()  # the project's options (the test process reads them)
    assert not at.exception and not at.error
    assert next(m.value for m in at.metric if m.label == "Patients") == "12"


def test_project_options_apply_from_any_folder(tmp_path):
    """Streamlit reads the config beside the main script (script-level config): started from another folder,
    the server still binds localhost with statistics off and XSRF on."""
    probe = ("import json; from streamlit import config; config._main_script_path = %r; "
             "print(json.dumps({k: config.get_option(k) for k in %r}))") % (HOME, list(SAFE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True)
    import json

    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == SAFE
    assert not unsafe_options(got.get, {})


# --- the real server ---------------------------------------------------------------------------------------------

def _listening(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    out = []
    for name in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
                f = line.split()
                addr, p = f[1].rsplit(":", 1)
                if int(p, 16) == port and f[3] == "0A":
                    out.append(addr)
    return out


def _http(port: int, host: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_stcore/health", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def _ws(port: int, host: str) -> str:
    """The status line a websocket upgrade of Streamlit's stream gets with ``Host: host`` (Origin the same)."""
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n"
           f"Sec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(req.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


@pytest.mark.slow
def test_real_server_from_another_folder_binds_localhost_and_refuses_foreign_hosts(tmp_path, demo_root):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(MEMAMBA_CACHE=str(demo_root), MEMAMBA_DEMO_PROFILE="tiny", PYTHONPATH=str(REPO))
    env.pop("MEMAMBA_ALLOWED_HOSTS", None)
    log = tmp_path / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", HOME, "--server.port", str(port),
                                 "--server.headless", "true"], cwd=tmp_path, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.time() + 90
        while time.time() < end and not _listening(port):
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.1)
        addrs = _listening(port)
        assert addrs, log.read_text()[-3000:]
        loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 (as /proc/net writes them)
        assert set(addrs) <= loopback, addrs
        end = time.time() + 60
        while time.time() < end and _http(port, f"localhost:{port}") != 200:
            time.sleep(0.1)
        assert _http(port, f"localhost:{port}") == 200
        assert _http(port, f"127.0.0.1:{port}") == 200
        assert _http(port, f"evil.example:{port}") == 403
        assert _http(port, "evil.example") == 403
        assert re.match(r"HTTP/1\.1 101", _ws(port, f"localhost:{port}")), _ws(port, f"localhost:{port}")
        assert re.match(r"HTTP/1\.1 403", _ws(port, f"evil.example:{port}")), _ws(port, f"evil.example:{port}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        proc.wait(20)
