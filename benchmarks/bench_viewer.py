"""Tile latency and server memory of the deep-zoom viewer on a large pyramidal JPEG TIFF.

Writes a W × H pyramidal tiled JPEG TIFF tile by tile (tifffile, from a small bank of textured
tiles, so nothing of the full image is ever in memory), then through the real tile server over
HTTP on 127.0.0.1: the latency of 254-px Deep Zoom tiles at level 0 and at a low level (each
tile requested once cold, then again warm), and the server's resident memory while panning a
row of level-0 tiles across the slide. With ``--qupath RUN COHORT``, also the wall time of
``memamba export-qupath RUN COHORT --out <temp>`` (the whole command: imports, model load, every patient
predicted and written). Prints and writes JSON.

    python benchmarks/bench_viewer.py --width 100000 --height 80000 --out benchmarks/results/viewer.json
    python benchmarks/bench_viewer.py --width 8000 --height 6000          # a dry run
    python benchmarks/bench_viewer.py --qupath assets/demo-model-full ~/.cache/memamba/demo-full
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from memamba_core.paths import atomic_write_text
from memamba_core.viewer import TileServer

TILE = 256


def _bank(n: int = 16, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:TILE, 0:TILE]
    out = []
    for i in range(n):
        base = np.stack([(xx + 16 * i) % 256, (yy * 2 + 8 * i) % 256, ((xx + yy) // 2 + 30 * i) % 256], -1)
        out.append(np.clip(base + rng.integers(-8, 9, base.shape), 0, 255).astype(np.uint8))
    return out


def write_big_tiff(path: Path, width: int, height: int, min_side: int = 1024) -> list[tuple[int, int]]:
    """A pyramidal tiled JPEG TIFF, every level written tile by tile from a bank (no full image in memory)."""
    bank = _bank()
    levels = [(width, height)]
    while max(levels[-1]) // 2 >= min_side:
        levels.append((levels[-1][0] // 2, levels[-1][1] // 2))

    def tiles(w, h, k):
        for ty in range((h + TILE - 1) // TILE):
            for tx in range((w + TILE - 1) // TILE):
                yield bank[(tx * 7 + ty * 3 + k) % len(bank)]

    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        for k, (w, h) in enumerate(levels):
            tw.write(tiles(w, h, k), shape=(h, w, 3), dtype=np.uint8, photometric="rgb", tile=(TILE, TILE),
                     compression="jpeg", compressionargs={"level": 85}, subfiletype=1 if k else 0,
                     resolution=(2e4 / 2**k, 2e4 / 2**k), resolutionunit="CENTIMETER", metadata=None)
    return levels


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _get(conn, host, target) -> float:
    t = time.perf_counter()
    conn.request("GET", target, headers={"Host": host})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError(f"{target}: HTTP {r.status}")
    return (time.perf_counter() - t) * 1000


def _stats(ms: list[float]) -> dict:
    q = statistics.quantiles(ms, n=20) if len(ms) >= 2 else ms * 19
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p95_ms": round(q[18], 2)}


def bench_export(run: Path, cohort: Path, threads: int = 1) -> dict:
    """Wall time of the ``memamba export-qupath`` command on a cohort, and what it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "qupath"
        cmd = [sys.executable, "-m", "memamba_core.cli", "export-qupath", str(run), str(cohort), "--out", str(out),
               "--num-threads", str(threads), "--no-progress"]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"export-qupath failed ({done.returncode}): {done.stderr[-2000:]}")
        files = sorted(out.glob("*.geojson"))
        return {"command": " ".join(["memamba"] + cmd[3:6] + ["--out", "<temp>"] + cmd[8:]), "wall_s": round(wall, 2),
                "reported": done.stdout.strip().splitlines()[-1], "slides": len(files),
                "mib": round(sum(f.stat().st_size for f in files) / 2**20, 1)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=8000)
    ap.add_argument("--height", type=int, default=6000)
    ap.add_argument("--tiles", type=int, default=60, help="tiles per measured level")
    ap.add_argument("--pan", type=int, default=400, help="level-0 tiles requested while panning")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--qupath", nargs=2, type=Path, metavar=("RUN", "COHORT"),
                    help="also time `memamba export-qupath RUN COHORT` (into a temporary folder)")
    ap.add_argument("--no-tiles", action="store_true", help="skip the tile benchmark (with --qupath)")
    a = ap.parse_args(argv)
    res: dict = {"cpu_count": os.cpu_count(), "loadavg_at_start": list(os.getloadavg())}
    if a.qupath:
        res["export_qupath"] = bench_export(*a.qupath)
    if not a.no_tiles:
        res.update(bench_tiles(a))
    print(json.dumps(res, indent=1))
    if a.out is not None:
        atomic_write_text(a.out, json.dumps(res, indent=1))
    return res


def bench_tiles(a) -> dict:
    """Tile latency cold / warm at level 0 and a low level, and the server's memory while panning."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.tif"
        t0 = time.perf_counter()
        levels = write_big_tiff(path, a.width, a.height)
        write_s = time.perf_counter() - t0
        with TileServer() as srv:
            tok = srv.service.register_slide(path)
            dz = srv.service.deep_zoom(tok)
            host = f"127.0.0.1:{srv.port}"
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            top = dz.level_count - 1
            rng = np.random.default_rng(0)
            res = {"slide": {"width": a.width, "height": a.height, "levels": levels, "write_s": round(write_s, 1),
                             "file_mib": round(path.stat().st_size / 2**20, 1)},
                   "dz_levels": dz.level_count, "rss_start_mib": round(_rss_mib(), 1)}
            for name, z in (("level0", top), ("low", max(0, top - 7))):
                cols, rows = dz.level_tiles[z]
                picks = [(int(rng.integers(cols)), int(rng.integers(rows))) for _ in range(a.tiles)]
                cold = [_get(conn, host, f"/dz/{tok}_files/{z}/{c}_{r}.jpeg") for c, r in picks]
                warm = [_get(conn, host, f"/dz/{tok}_files/{z}/{c}_{r}.jpeg") for c, r in picks]
                res[name] = {"dz_level": z, "scale": 2 ** (top - z), "slide_level": dz.slide_level(z),
                             "cold": _stats(cold), "warm": _stats(warm)}
            cols, rows = dz.level_tiles[top]
            peak, row = _rss_mib(), rows // 2
            for i in range(a.pan):
                _get(conn, host, f"/dz/{tok}_files/{top}/{(i * 3) % cols}_{(row + i // cols) % rows}.jpeg")
                if i % 20 == 0:
                    peak = max(peak, _rss_mib())
            res["pan"] = {"tiles": a.pan, "rss_peak_mib": round(max(peak, _rss_mib()), 1),
                          "rss_end_mib": round(_rss_mib(), 1),
                          "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
            conn.close()
    return res


if __name__ == "__main__":
    main()
