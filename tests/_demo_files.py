"""Comparing demo folders file by file (the builds must be byte-identical)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def demo_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file of a demo folder; of ``.complete.json`` without its wall-clock ``seconds``."""
    out = {}
    for f in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        data = f.read_bytes()
        if f.name == ".complete.json":
            data = json.dumps({k: v for k, v in json.loads(data).items() if k != "seconds"}).encode()
        out[str(f.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out
