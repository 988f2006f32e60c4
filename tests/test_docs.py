"""Docs true to the code: every command block of README.md and docs/*.md marked runnable runs, on the tiny demo.

The convention (docs/testing.md): a fenced block whose info string is a language
followed by ``runnable`` — ```` ```bash runnable ```` or ```` ```python runnable ```` —
is run by this test and must exit 0. Each block runs in a fresh folder that
looks like the repository root (its top-level entries linked in: relative paths
such as ``dashboard/Home.py`` resolve, and outputs land in the fresh folder, not
in the tree), with ``MEMAMBA_CACHE`` holding the session's tiny demo and
``MEMAMBA_DEMO_PROFILE=tiny``. Unmarked blocks (set-up commands, sketches with
placeholders) are documentation only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.demo_env import PROFILE

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
RUNNERS = {"bash": ["bash", "-euo", "pipefail", "-c"], "python": [sys.executable, "-c"]}


def runnable_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line number, language, code) of each block of ``text`` whose info string is ``<language> runnable``."""
    out = []
    for m in FENCE.finditer(text):
        words = m["info"].split()
        if "runnable" in words[1:]:
            out.append((text.count("\n", 0, m.start()) + 1, words[0], m["body"]))
    return out


BLOCKS = [(doc, line, lang, code) for doc in DOCS for line, lang, code in runnable_blocks(doc.read_text())]


def test_the_marker_convention():
    text = "a\n```bash runnable\necho hi\n```\n```bash\nnot run\n```\n```python runnable\nprint(1)\n```\n"
    assert runnable_blocks(text) == [(2, "bash", "echo hi\n"), (8, "python", "print(1)\n")]
    assert runnable_blocks("```runnable\nx\n```\n") == []  # the language comes first
    assert {d.name for d, *_ in BLOCKS} >= {"dashboard.md", "testing.md"}  # the docs that must stay runnable
    unknown = [(d.name, line, lang) for d, line, lang, _ in BLOCKS if lang not in RUNNERS]
    assert not unknown, f"runnable blocks in a language this test cannot run: {unknown}"


@pytest.fixture()
def repo_like(tmp_path) -> Path:
    """A fresh folder with the repository's top-level entries linked in."""
    work = tmp_path / "repo"
    work.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".git", ".pytest_cache") and not entry.name.startswith("."):
            (work / entry.name).symlink_to(entry)
    return work


@pytest.mark.slow
@pytest.mark.parametrize("doc,line,lang,code", BLOCKS, ids=[f"{d.name}:{line}" for d, line, *_ in BLOCKS])
def test_runnable_block(doc, line, lang, code, demo_root, repo_like):
    env = {**os.environ, "MEMAMBA_CACHE": str(demo_root), "MEMAMBA_DEMO_PROFILE": PROFILE,
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    res = subprocess.run([*RUNNERS[lang], code], cwd=repo_like, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (f"{doc.relative_to(REPO)}:{line} exited {res.returncode}\n--- stdout\n{res.stdout[-3000:]}"
                                 f"\n--- stderr\n{res.stderr[-3000:]}")
