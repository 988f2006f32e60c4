"""Drive the real dashboard in Debian's chromium with Playwright (shared by tests/e2e and benchmarks).

``Server`` runs ``streamlit run dashboard/Home.py`` on a free localhost port
(its own process group, stopped on exit); ``browser()`` launches
``/usr/bin/chromium`` headless (Playwright's bundled browser is not used).
The helpers wait for what a user waits for: an element with a given text,
the app's "running" indicator gone, no exception box.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXCEPTION = '[data-testid="stException"]'
PAGES = {"Home": "", "Cohort survival": "Cohort_survival", "Patient": "Patient", "Transport map": "Transport_map",
         "Ablations": "Ablations", "Train / evaluate": "Train_evaluate", "Model quality": "Model_quality"}  # sidebar title → URL path


def chromium_path() -> str | None:
    """Debian's chromium, if installed."""
    for p in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if p and os.access(p, os.X_OK):
            return p
    return None


def require_chromium() -> None:
    """Skip the calling test module when Debian chromium is missing, except under ``CI=true``, where it fails
    (CI installs it: the real-browser tests must run there). Call at module level."""
    import pytest

    if chromium_path() is not None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but /usr/bin/chromium is missing: the real-browser tests must run in CI "
                    "(apt-get install chromium).", pytrace=False)
    pytest.skip("Debian chromium is not installed (/usr/bin/chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``streamlit run dashboard/Home.py`` (or another ``script``) in the background; ``.url``; ``.started_at`` (perf_counter)."""

    def __init__(self, env: dict[str, str], port: int | None = None, script: str | Path = "dashboard/Home.py"):
        self.port = port or free_port()
        self.url = f"http://localhost:{self.port}"
        self.env = {**os.environ, **env}
        self.script = str(script)
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.log = Path(env.get("MEMAMBA_CACHE", "/tmp")) / f"streamlit-{self.port}.log"

    def start(self) -> "Server":
        cmd = [sys.executable, "-m", "streamlit", "run", self.script, "--server.headless", "true",
               "--server.port", str(self.port), "--browser.gatherUsageStats", "false"]
        self.started_at = time.perf_counter()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def wait_healthy(self, timeout: float = 60) -> float:
        """Block until /_stcore/health answers; returns seconds since start()."""
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.started_at
            time.sleep(0.05)
        raise TimeoutError(f"streamlit did not answer on {self.url}:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def browser(width: int = 1500, height: int = 1000):
    """A Playwright page in headless Debian chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = b.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            b.close()


def wait_idle(page, timeout: float = 60) -> None:
    """Wait until the script run is over (no status widget, no stale elements) and every Plotly chart is drawn."""
    page.wait_for_timeout(100)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
                 && !document.querySelector('[data-stale="true"]')
                 && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                        .every(c => c.querySelector('.main-svg'))""",
        timeout=timeout * 1000)


def wait_charts(page, n: int, timeout: float = 60) -> None:
    """Wait until at least ``n`` Plotly charts are drawn (their SVG exists), then for the app to be idle."""
    page.wait_for_function(
        """(n) => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                     .filter(c => c.querySelector('.main-svg')).length >= n""",
        arg=n, timeout=timeout * 1000)
    wait_idle(page, timeout)


def wait_text(page, text: str, timeout: float = 60) -> None:
    """Wait for visible ``text`` anywhere in the main area."""
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout * 1000)


def assert_no_exception(page) -> None:
    boxes = page.locator(EXCEPTION)
    if boxes.count():
        raise AssertionError(f"Streamlit exception on {page.url}: {boxes.first.inner_text()[:2000]}")


def goto_page(page, name: str) -> None:
    """Switch page through the sidebar navigation (as a user would)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.click()
    page.wait_for_url(f"**/{PAGES[name]}")


def select_option(page, label: str, option: str) -> None:
    """Open the selectbox labelled ``label`` and choose ``option``."""
    box = page.locator('[data-testid="stSelectbox"]', has_text=label).first
    box.locator("input").click()
    page.get_by_role("option", name=option, exact=True).first.click()


def click_slide_patch(page, point: int = 0) -> None:
    """Click patch ``point`` on the first slide figure (an image trace under a patch scatter), with the real mouse."""
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has=page.locator(".js-plotly-plot")).filter(
        has=page.locator("g.imagelayer image, .layer-below image, image")).first
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    xy = page.evaluate(
        """(i) => {
            const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g._fullData && g._fullData[0].type === 'image');
            const tr = gd._fullData[1], fl = gd._fullLayout;
            const r = gd.getBoundingClientRect();
            return [r.left + fl.xaxis._offset + fl.xaxis.l2p(tr.x[i]), r.top + fl.yaxis._offset + fl.yaxis.l2p(tr.y[i])];
        }""",
        point,
    )
    page.mouse.click(xy[0], xy[1])


def toggle(page, label: str) -> None:
    """Flip the toggle/checkbox labelled ``label``."""
    page.locator('[data-testid="stCheckbox"]', has_text=label).first.locator("label").first.click()


def viewer_frame(page, timeout_s: float = 60):
    """The slide viewer component's iframe on ``page``, once it is attached."""
    for _ in range(int(timeout_s * 10)):
        for f in page.frames:
            if "slide_viewer" in f.url:
                return f
        page.wait_for_timeout(100)
    raise AssertionError("the slide viewer iframe did not appear")
