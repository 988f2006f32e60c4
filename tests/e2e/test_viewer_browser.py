"""The slide viewer in real Chromium: tiles of several levels load, the deepest level shows the slide's own
pixels, overlays toggle, and a click returns the patch under it.

A standalone page (tests/e2e/viewer_page.py) mounts the component on a pyramidal JPEG TIFF written here.
Skips without Debian chromium, except under CI=true (fails). Screenshots are kept in the test's temp folder.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.slides import open_slide
from tests._viewer_fixtures import textured_rgb
from tests.e2e import driver

pytestmark = pytest.mark.e2e

driver.require_chromium()

W, H, SIDE = 3072, 2048, 256


class _Page(driver.Server):
    """``streamlit run tests/e2e/viewer_page.py`` (the repository importable for ``dashboard.components``)."""

    def start(self):
        import subprocess
        import time

        cmd = [sys.executable, "-m", "streamlit", "run", "tests/e2e/viewer_page.py", "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
        self.started_at = time.perf_counter()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=driver.REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self


@pytest.fixture(scope="module")
def page_server(tmp_path_factory):
    """Slide 1: 3072 × 2048, 256-px patches. Slide 2: 2048 × 1536, 512-px patches (bag rows after slide 1's)."""
    d = tmp_path_factory.mktemp("viewer_e2e")
    slides, n = [], 0
    for i, (w, h, side) in enumerate([(W, H, SIDE), (2048, 1536, 512)]):
        path = d / f"E2E-{i + 1}.tif"
        write_pyramid_tiff(path, textured_rgb(h, w, seed=3 + i), mpp=0.5, min_side=256, quality=90)
        gy, gx = np.mgrid[0 : h // side, 0 : w // side]
        coords = np.stack([gx.ravel() * side, gy.ravel() * side], 1)
        slides.append({"slide_id": f"E2E-{i + 1}", "path": str(path), "rows": list(range(n, n + len(coords))),
                       "coords": coords.tolist(), "side0": side})
        n += len(coords)
    scores = np.random.default_rng(0).random(n)
    spec = d / "spec.json"
    spec.write_text(json.dumps({"slides": slides, "scores": scores.tolist()}))
    env = {"VIEWER_SPEC": str(spec), "PYTHONPATH": str(driver.REPO), "MEMAMBA_CACHE": str(d)}
    with _Page(env) as srv:
        srv.url = f"http://127.0.0.1:{srv.port}"
        srv.wait_healthy()
        yield srv, slides, scores




def test_viewer_tiles_levels_pixels_overlays_and_click(page_server, tmp_path):
    srv, slides, scores = page_server
    slide, coords = slides[0]["path"], np.asarray(slides[0]["coords"])
    with driver.browser(width=1200, height=900) as page:
        page.goto(srv.url)
        frame = driver.viewer_frame(page)
        frame.wait_for_function("() => window.__viewerState && window.__viewerState.ready", timeout=60_000)
        frame.wait_for_function("() => window.__viewer.world.getItemCount() === 4 && window.__viewer.world.getItemAt(0)"
                                ".getFullyLoaded()", timeout=60_000)
        page.screenshot(path=str(tmp_path / "viewer_home.png"))
        n_dz = frame.evaluate("() => window.__viewer.world.getItemAt(0).source.maxLevel") + 1

        # zoom to level 0 (one image pixel per screen pixel) at patch 13, overlays off (their toggles)
        target = 13
        cx, cy = (coords[target] + SIDE / 2).tolist()
        for name in ("attention", "top-3"):
            frame.locator(f'input[type=checkbox][data-layer="{name}"]').uncheck()
        frame.evaluate("""([x, y]) => { const v = window.__viewer, it = v.world.getItemAt(0);
                            v.viewport.panTo(it.imageToViewportCoordinates(x, y), true);
                            v.viewport.zoomTo(it.imageToViewportZoom(1.0), null, true); }""", [cx, cy])
        frame.wait_for_function(f"() => (window.__viewerState.tilesLoaded[{n_dz - 1}] || 0) > 0 && "
                                "window.__viewer.world.getItemAt(0).getFullyLoaded()", timeout=60_000)
        page.wait_for_timeout(500)
        levels = frame.evaluate("() => Object.keys(window.__viewerState.tilesLoaded).map(Number)")
        assert n_dz - 1 in levels and len(levels) >= 2, levels
        assert frame.evaluate("() => window.__viewerState.failed") == 0
        page.screenshot(path=str(tmp_path / "viewer_level0.png"))

        # the pixels shown at the deepest level are the slide's own (JPEG noise only)
        got = frame.evaluate("""([x, y, n]) => {
            const v = window.__viewer, it = v.world.getItemAt(0);
            const p = it.imageToViewerElementCoordinates(new OpenSeadragon.Point(x, y));
            const c = v.drawer.canvas, r = c.width / c.clientWidth;
            const ctx = c.getContext('2d');
            const d = ctx.getImageData(Math.round(p.x * r), Math.round(p.y * r), n, n).data;
            return {ratio: r, px: Array.from(d)};
        }""", [int(cx) - 32, int(cy) - 32, 64])
        shown = np.asarray(got["px"], np.float64).reshape(64, 64, 4)[..., :3]
        with open_slide(slide) as s:
            ref = s.read_array((int(cx) - 32, int(cy) - 32), 0, (64, 64)).astype(np.float64)
        assert got["ratio"] == 1.0
        assert np.abs(shown - ref).mean() < 6.0, np.abs(shown - ref).mean()

        # overlays back on: the attention layer changes what is shown there
        frame.locator('input[type=checkbox][data-layer="attention"]').check()
        page.wait_for_timeout(800)
        tinted = frame.evaluate("""([x, y]) => { const v = window.__viewer, it = v.world.getItemAt(0);
            const p = it.imageToViewerElementCoordinates(new OpenSeadragon.Point(x, y));
            return Array.from(v.drawer.canvas.getContext('2d').getImageData(Math.round(p.x), Math.round(p.y), 1, 1).data);
        }""", [cx, cy])
        assert np.abs(np.asarray(tinted[:3], float) - ref[32, 32]).mean() > 8

        # a click (not a drag) on the patch returns it, with its rank and full-resolution image
        box = page.locator('iframe[title*="slide_viewer"]').first.bounding_box()
        p = frame.evaluate("""([x, y]) => { const it = window.__viewer.world.getItemAt(0);
                               const q = it.imageToViewerElementCoordinates(new OpenSeadragon.Point(x, y));
                               return [q.x, q.y]; }""", [cx + 40, cy + 40])
        page.mouse.click(box["x"] + p[0], box["y"] + p[1])
        rank = int((scores > scores[target]).sum()) + 1
        driver.wait_text(page, f"E2E-1: patch {target} at level 0 ({coords[target][0]}, {coords[target][1]}), side 256, "
                               f"rank {rank} of {len(scores)}")
        page.locator('[data-testid="stImage"]').first.wait_for(state="visible")
        driver.assert_no_exception(page)
        page.screenshot(path=str(tmp_path / "viewer_click.png"), full_page=True)

        # a drag pans and is not a click
        before = frame.evaluate("() => window.__viewer.viewport.getCenter(true).x")
        page.mouse.move(box["x"] + 300, box["y"] + 250)
        page.mouse.down()
        page.mouse.move(box["x"] + 100, box["y"] + 250, steps=8)
        page.mouse.up()
        page.wait_for_timeout(500)
        assert frame.evaluate("() => window.__viewer.viewport.getCenter(true).x") != before
        driver.wait_text(page, f"E2E-1: patch {target} at level 0")    # the answer did not change

        # the patient's second slide, with its own patch geometry: the viewer opens it, a click finds its patch
        driver.select_option(page, "Slide", "E2E-2")
        frame.wait_for_function("() => window.__viewerState.ready && window.__viewer.world.getItemCount() === 4 && "
                                "window.__viewer.world.getItemAt(0).source.width === 2048", timeout=60_000)
        frame.wait_for_function("() => window.__viewer.world.getItemAt(0).getFullyLoaded()", timeout=60_000)
        second = slides[1]
        k = 5
        x2, y2 = second["coords"][k]
        p = frame.evaluate("""([x, y]) => { const it = window.__viewer.world.getItemAt(0);
                               const q = it.imageToViewerElementCoordinates(new OpenSeadragon.Point(x, y));
                               return [q.x, q.y]; }""", [x2 + 300, y2 + 300])     # inside the 512-px patch only
        page.mouse.click(box["x"] + p[0], box["y"] + p[1])
        driver.wait_text(page, f"E2E-2: patch {second['rows'][k]} at level 0 ({x2}, {y2}), side 512")
        driver.assert_no_exception(page)
        page.screenshot(path=str(tmp_path / "viewer_second_slide.png"), full_page=True)
