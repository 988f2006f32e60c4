"""Benchmark: build the demo cohort from scratch; report wall time and size on disk.

    python benchmarks/bench_demo.py [--profile full] [--workers 0] [--cache DIR] [--background]

Builds into a fresh temporary cache folder (or ``--cache``, which must not already hold a
complete build of the profile), then writes ``benchmarks/results/demo_<profile>.json``:
seconds, bytes on disk (total and per sub-folder), patients, patches, censored fraction,
CPU count and the machine's load average at start (this machine may be shared).

``--background``: the build as a first start of the dashboard runs it (the background builder,
``memamba_core.demo.start_build``, with the demo checkpoint): also the seconds until the
cohort's tables are in place (the folder loads) and until the checkpoint is there
(``seconds_to_tables``, ``seconds_to_model``); results in ``demo_<profile>_background.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from memamba_core.paths import atomic_write_text


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _background(profile: str, workers: int | None, t0: float) -> tuple[Path, dict]:
    """Run the dashboard's background builder (with the demo checkpoint) and time what it offers when."""
    from memamba_core.demo import build_status, start_build

    marks: dict = {}
    status, said = start_build(profile, model=True, workers=workers), ""
    while status.state == "building":
        time.sleep(0.2)
        status = build_status(profile)
        now = round(time.perf_counter() - t0, 1)
        if status.tables and "seconds_to_tables" not in marks:
            marks["seconds_to_tables"] = now
        if status.model and "seconds_to_model" not in marks:
            marks["seconds_to_model"] = now
        if status.message != said:
            said = status.message
            print(f"{now:7.1f} s {status.fraction:5.1%} {said}", flush=True)
    if status.state != "ready":
        raise SystemExit(f"the background build ended {status.state}: {status.error}\n{status.log}")
    return Path(status.cohort), marks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: the profile's)")
    ap.add_argument("--cache", default=None, help="cache folder to build into (default: a fresh temp folder)")
    ap.add_argument("--background", action="store_true", help="build through the dashboard's background builder")
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="memamba-bench-"))
    os.environ["MEMAMBA_CACHE"] = str(cache)
    from memamba_core.demo import demo_dir, ensure_demo, is_complete

    if is_complete(demo_dir(args.profile), args.profile):
        raise SystemExit(f"{demo_dir(args.profile)} already holds a complete build; give an empty --cache")
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    if args.background:
        root, marks = _background(args.profile, args.workers, t0)
    else:
        root, marks = ensure_demo(args.profile, workers=args.workers, progress=lambda f, m: print(f"{f:5.1%} {m}", flush=True)), {}
    secs = time.perf_counter() - t0
    done = json.loads((root / ".complete.json").read_text())
    sizes = {p.name: _size(p) for p in root.iterdir() if p.is_dir()}
    out = {
        "benchmark": "demo_build", "profile": args.profile, "seconds": round(secs, 1), "target_seconds": 90,
        "bytes_total": _size(root), "bytes_by_folder": sizes, "n_patients": done["n_patients"],
        "n_patches": done["n_patches"], "censored": done["censored"], "root": str(root),
        "cpu_count": os.cpu_count(), "loadavg_at_start": load0, "python": platform.python_version(),
        "workers": args.workers, **marks,
    }
    res = Path(__file__).resolve().parent / "results" / f"demo_{args.profile}{'_background' if args.background else ''}.json"
    atomic_write_text(res, json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
