"""A cohort whose every name is a script payload, in the real dashboard (headless Debian chromium): nothing runs.

The tiny demo cohort is copied with its cohort name, case ids, slide ids (and
so its feature and slide file names), gene-group names (pathways.csv and
signatures.csv), clinical values and clinical column names replaced by HTML,
script and markdown payloads; a light model is cross-validated on it (the
Transport map then draws the payload group names). Every page is opened with
it; on each, no payload has executed (``window.__pwned`` undefined, the title
unchanged, no ``iframe[srcdoc]``, no ``javascript:`` link, no image the page
did not make) and the payload text is on the page literally.

Skips when chromium is missing, except under CI=true, where it fails (CI installs it).
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from memamba_core.app.text import WORD_JOINER
from tests.e2e import driver
from tests.e2e.demo_env import env, tiny_demo

pytestmark = pytest.mark.e2e

driver.require_chromium()

# Payloads. File names cannot hold "/", so slide ids (feature and slide file names) use the ones without it.
IMG = '<img src=x onerror="window.__pwned=1">'
SVG = '<svg onload="window.__pwned=2">'
LINK = "[click](javascript:window.__pwned=3)"
SCRIPT = "<script>document.title='pwned';window.__pwned=4</script>"
IFRAME = '<iframe srcdoc="<script>parent.__pwned=5</script>"></iframe>'
MDIMG = "![x](https://evil.example/x.png)"
STYLED = ":red[pwned] $x$ **b**"
COHORT_NAME = f"Cohort {IMG} {SCRIPT}"
CASE_PAYLOADS = [IMG, SCRIPT, IFRAME, LINK, SVG, MDIMG, STYLED]
SLIDE_PAYLOADS = [IMG, SVG, LINK, STYLED]
CHECK = """() => ({pwned: typeof window.__pwned === 'undefined' ? null : window.__pwned,
                  title: document.title,
                  srcdoc: document.querySelectorAll('iframe[srcdoc]').length,
                  jslinks: [...document.querySelectorAll('a[href]')].filter(a => /^\\s*javascript:/i.test(a.getAttribute('href'))).length,
                  evillinks: [...document.querySelectorAll('a[href]')].filter(a => a.getAttribute('href').includes('evil.example')).length,
                  foreign: [...document.querySelectorAll('img')].map(i => i.getAttribute('src') || '')
                              .filter(s => s === 'x' || s.includes('evil.example')).length,
                  scripts: [...document.querySelectorAll('script')].filter(s => (s.textContent || '').includes('__pwned')).length})"""


def _rewrite_csv(path: Path, fn) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rows = fn(rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_MINIMAL).writerows(rows)


def build_payload_cohort(src: Path, dst: Path) -> Path:
    """Copy the tiny demo cohort at ``src`` to ``dst`` with every name a payload; returns ``dst``."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth", "README.md"))
    with open(src / "labels.csv", newline="", encoding="utf-8") as fh:
        head, *body = list(csv.reader(fh))
    ci, si = head.index("case_id"), head.index("slide_id")
    cases = {r[ci]: f"{CASE_PAYLOADS[k % len(CASE_PAYLOADS)]} #{k}" for k, r in enumerate(body)}
    slides = {r[si]: f"{SLIDE_PAYLOADS[k % len(SLIDE_PAYLOADS)]} s{k}" for k, r in enumerate(body) if r[si]}

    def labels(rows):
        h = rows[0]
        out = [h]
        for r in rows[1:]:
            r = list(r)
            r[ci] = cases[r[ci]]
            r[si] = slides.get(r[si], r[si])
            for col, val in (("site", IFRAME), ("oncotree_code", SCRIPT)):
                if col in h:
                    r[h.index(col)] = f"{val} {r[h.index(col)]}"
            out.append(r)
        return out

    _rewrite_csv(dst / "labels.csv", labels)
    for folder, ext in (("slides", ".tif"), ("h5_files", ".h5"), ("pt_files", ".pt")):
        for old, new in slides.items():
            f = dst / folder / f"{old}{ext}"
            if f.exists():
                f.rename(dst / folder / f"{new}{ext}")
    for split in sorted((dst / "splits").glob("*.csv")):
        _rewrite_csv(split, lambda rows: [rows[0]] + [[cases.get(v, v) for v in r] for r in rows[1:]])
    group_names = [IMG, SCRIPT, IFRAME, LINK, SVG, MDIMG, STYLED, "plain group", f"{IMG} 2", f"{SCRIPT} 2",
                   "g11", "g12", "g13", "g14", "g15", "g16"]
    _rewrite_csv(dst / "pathways.csv", lambda rows: [[rows[0][0]] + group_names[:len(rows[0]) - 1]] + rows[1:])
    if (dst / "signatures.csv").exists():
        _rewrite_csv(dst / "signatures.csv", lambda rows: [group_names[:len(rows[0])]] + rows[1:])
    with open(dst / "clinical.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", f"stage {IMG}", f"grade {LINK}"])
        for k, c in enumerate(cases.values()):
            w.writerow([c, f"{SCRIPT} {k}", f"{MDIMG} {k}"])
    toml = (dst / "cohort.toml").read_text(encoding="utf-8").splitlines()
    toml = [ln for ln in toml if not ln.startswith("name")]
    esc = COHORT_NAME.replace("\\", "\\\\").replace('"', '\\"')
    (dst / "cohort.toml").write_text("\n".join([f'name = "{esc}"', *toml, 'clinical = "clinical.csv"']) + "\n",
                                     encoding="utf-8")
    return dst


@pytest.fixture(scope="module")
def payload(demo_root, tmp_path_factory):
    """(payload cohort, a light run cross-validated on it)."""
    import torch

    from memamba_core.data import load_cohort
    from memamba_core.train import demo_train_config, train_cv

    base = tmp_path_factory.mktemp("xss")
    cohort = build_payload_cohort(Path(tiny_demo(demo_root)[0]), base / "cohort")
    loaded = load_cohort(cohort)
    assert loaded.name == COHORT_NAME and any(IMG in c for c in loaded.case_ids())
    run = base / "run"
    threads = torch.get_num_threads()
    cfg = replace(demo_train_config("tiny"), epochs=1, n_folds=3, max_train_patches=64, num_threads=1)
    try:
        train_cv(loaded, cfg, run, progress=False)
    finally:
        torch.set_num_threads(threads)
    return cohort, run


@pytest.fixture(scope="module")
def server(demo_root, payload):
    with driver.Server({**env(demo_root), "MEMAMBA_DEFAULT_MODEL": str(payload[1])}) as srv:
        srv.wait_healthy()
        yield srv


def _assert_clean(page, title: str, where: str) -> None:
    got = page.evaluate(CHECK)
    assert got == {"pwned": None, "title": title, "srcdoc": 0, "jslinks": 0, "evillinks": 0, "foreign": 0,
                   "scripts": 0}, (where, got)


def test_payload_cohort_runs_no_script_on_any_page(server, payload, tmp_path):
    cohort, _ = payload
    with driver.browser() as page:
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.url)
        driver.wait_text(page, "Cohort")
        driver.wait_idle(page)
        title = page.title()
        assert title and "pwned" not in title
        page.get_by_text("My cohort", exact=True).first.click()
        box = page.get_by_label("Cohort folder or cohort file (.toml / .yaml)")
        box.fill(str(cohort))
        box.press("Enter")
        page.get_by_role("button", name="Use this cohort").click()
        driver.wait_text(page, "Cohort chosen")
        driver.wait_idle(page)
        driver.assert_no_exception(page)
        main = page.locator('[data-testid="stMain"], section.main').first
        text = main.inner_text().replace(WORD_JOINER, "")
        assert f"Cohort: {COHORT_NAME}" in text, text[:2000]  # the cohort name, literally
        _assert_clean(page, title, "Home")
        page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

        seen = {}
        for name, expect in (("Cohort survival", "Per group"), ("Patient", "Top "), ("Transport map", "Highlight"),
                             ("Ablations", "Components"), ("Train / evaluate", "New cross-validated run")):
            driver.goto_page(page, name)
            driver.wait_text(page, expect, timeout=180)
            driver.wait_idle(page, timeout=180)
            driver.assert_no_exception(page)
            page.wait_for_timeout(300)  # let any injected handler (onerror / onload) fire
            _assert_clean(page, title, name)
            seen[name] = (page.locator("body").inner_text() + "\n" + page.evaluate(
                "() => [...document.querySelectorAll('svg text')].map(t => t.textContent).join('\\n')")
            ).replace(WORD_JOINER, "")
            page.screenshot(path=str(tmp_path / f"{name.replace(' / ', '_').replace(' ', '_')}.png"), full_page=True)

        patient = seen["Patient"]
        assert IMG in patient or SCRIPT in patient or IFRAME in patient, patient[:3000]  # a case id, literally
        assert f"stage {IMG}" in patient and f"{SCRIPT} " in patient  # clinical column and value, literally
        assert f"{MDIMG} " in patient  # a markdown image with a URL: literal text, no image, no link
        tm = seen["Transport map"]
        assert IMG in tm and SCRIPT in tm and LINK in tm, tm[:3000]  # group names in the figures, literally
        assert COHORT_NAME in seen["Train / evaluate"]
        assert not dialogs, dialogs
