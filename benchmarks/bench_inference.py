"""Full ME-Mamba inference on one patient vs a TransMIL-like Transformer: time and peak memory.

Run from the repository root::

    python benchmarks/bench_inference.py                       # N = 5k … 200k, default threads
    python benchmarks/bench_inference.py --sizes 5000 20000 --threads 1

Each point runs in a fresh subprocess (eval mode, ``torch.no_grad``): build the
model from a fixed seed, make one patient (N patches × 1024 features, six
genomic groups), warm up on 64 patches, then time one full forward (wall
``seconds`` and ``cpu_s``, the process's CPU time: on a shared machine the
single-thread CPU time is the idle-machine wall time) and record
the peak resident memory (VmHWM) and its growth over the resident
memory just before the call. The Transformer is a TransMIL-like MIL of the same
width d = 256 (projection, class token, two pre-norm layers of 8-head full
self-attention with an explicit N × N softmax, class-token head): its memory
grows with N², so points whose attention matrix alone would exceed
``--transformer-max-gib`` are marked skipped instead of run, and every point has a
wall-clock limit. Writes ``benchmarks/results/bench_inference.json`` and ``.png``
(``--out`` to change; ``--transformer-max-gib 0`` skips the Transformer). The
record names the scan backend the model ran on (``active_backend``). Memory goal:
ME-Mamba's peak at N = 200,000 at most 2 GiB, growing linearly — ``memory_n200000``
holds the peak and the verdict, ``memory_linear_fit`` the least-squares line of peak
against N over the measured points (GiB per 100k patches, intercept, worst residual).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from memamba_core.models import ModelConfig, build_model
from memamba_core.paths import atomic_write_text
from memamba_core.ssm import active_backend

RESULTS = Path(__file__).resolve().parent / "results"
OMIC_SIZES = (100, 300, 500, 450, 1500, 480)  # six MCAT-like gene families
D_IN = 1024
TARGET_N, TARGET_S, TARGET_GIB = 20_000, 2.0, 2.0
MEMORY_N, MEMORY_GIB = 200_000, 2.0  # the long-bag memory goal


class TransMILLike(nn.Module):
    """Transformer MIL with full self-attention. path (N, D_in) → (K,) logits.

    Heads are computed one after another, each materialising its (N+1) × (N+1)
    attention matrix, as a plain Transformer layer does.
    """

    def __init__(self, d_in: int = D_IN, d: int = 256, heads: int = 8, layers: int = 2, n_bins: int = 4):
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(d_in, d), nn.ReLU())
        self.cls = nn.Parameter(torch.zeros(1, d))
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.qkv = nn.ModuleList(nn.Linear(d, 3 * d) for _ in range(layers))
        self.out = nn.ModuleList(nn.Linear(d, d) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, n_bins)
        self.heads = heads

    def forward(self, path: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.cls, self.proj(path)])  # (N+1, d)
        for norm, qkv, out in zip(self.norms, self.qkv, self.out):
            q, k, v = qkv(norm(x)).chunk(3, dim=-1)  # (N+1, d) each
            dh = q.shape[-1] // self.heads
            heads = []
            for h in range(self.heads):
                sl = slice(h * dh, (h + 1) * dh)
                attn = torch.softmax(q[:, sl] @ k[:, sl].t() / dh**0.5, dim=-1)  # (N+1, N+1)
                heads.append(attn @ v[:, sl])
                del attn
            x = x + out(torch.cat(heads, dim=-1))
        return self.head(self.norm(x[0]))


def _status_kib(field: str) -> int:
    """A memory field of /proc/self/status in KiB: VmRSS (now) or VmHWM (peak of this image).

    VmHWM, unlike ru_maxrss, starts afresh at exec, so a child does not inherit
    the parent's peak. Falls back to ru_maxrss where /proc is missing.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(args: argparse.Namespace) -> None:
    """One point in this (fresh) process; prints a JSON line."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    path = torch.randn(args.n, D_IN, generator=g)
    omics = [torch.randn(s, generator=g) for s in OMIC_SIZES]
    if args.child == "memamba":
        model = build_model(ModelConfig(path_input_dim=D_IN, omic_sizes=OMIC_SIZES, n_layers=args.n_layers)).eval()

        def call(p):
            return model(p, omics)

    else:
        model = TransMILLike().eval()

        def call(p):
            return model(p)

    with torch.inference_mode():
        call(path[:64])
        before = _status_kib("VmRSS")
        cpu0, start = time.process_time(), time.perf_counter()
        call(path)
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu0
    peak = _status_kib("VmHWM")
    print(json.dumps({"seconds": seconds, "cpu_s": cpu_s, "peak_rss_gib": peak / 2**20, "peak_growth_gib": (peak - before) / 2**20}))


def point(model: str, n: int, args: argparse.Namespace) -> dict:
    if model == "transmil":
        need = 2 * (n + 1) ** 2 * 4 / 2**30  # scores + softmax of one head, float32
        if need > args.transformer_max_gib:
            return {"status": f"skipped: one head's attention needs ~{need:.1f} GiB > {args.transformer_max_gib} GiB"}
    cmd = [sys.executable, __file__, "--child", model, "--n", str(n), "--threads", str(args.threads)]
    cmd += ["--n-layers", str(args.n_layers)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout > {args.timeout} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["?"]
        return {"status": f"failed (rc {proc.returncode}): {tail[0][:200]}"}
    return {"status": "ok"} | json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000, 40000, 80000, 200000])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--n-layers", type=int, default=ModelConfig().n_layers)
    parser.add_argument("--timeout", type=int, default=300, help="seconds per point")
    parser.add_argument("--transformer-max-gib", type=float, default=6.0)
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "bench_inference.json", help="JSON path (the PNG goes beside it)"
    )
    parser.add_argument("--child", choices=["memamba", "transmil"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    results = {
        "threads": args.threads,
        "n_layers": args.n_layers,
        "omic_sizes": list(OMIC_SIZES),
        "d_in": D_IN,
        "torch": torch.__version__,
        "scan_backend": active_backend("cpu"),
        "machine": f"{platform.machine()} ({torch.backends.cpu.get_cpu_capability()})",
        "command": "python " + " ".join(sys.argv),
        "load_average_before": os.getloadavg(),
        "points": {"memamba": {}, "transmil": {}},
    }
    for n in args.sizes:
        for model in ("memamba", "transmil"):
            res = point(model, n, args)
            results["points"][model][str(n)] = res
            shown = (
                f"cpu {res['cpu_s']:.2f} s, wall {res['seconds']:.2f} s, peak {res['peak_rss_gib']:.2f} GiB"
                if res["status"] == "ok"
                else res["status"]
            )
            print(f"N={n:>6} {model:>8}: {shown}", flush=True)
    target = results["points"]["memamba"].get(str(TARGET_N))
    if target and target["status"] == "ok":
        results["target_n20000"] = {
            "seconds": target["seconds"],
            "cpu_s": target["cpu_s"],
            "peak_rss_gib": target["peak_rss_gib"],
            "time_met_cpu": target["cpu_s"] <= TARGET_S,
            "time_met": target["seconds"] <= TARGET_S,
            "memory_met": target["peak_rss_gib"] <= TARGET_GIB,
        }
    big = results["points"]["memamba"].get(str(MEMORY_N))
    if big and big["status"] == "ok":
        results["memory_n200000"] = {"peak_rss_gib": big["peak_rss_gib"], "goal_gib": MEMORY_GIB,
                                     "memory_met": big["peak_rss_gib"] <= MEMORY_GIB}
    results["memory_linear_fit"] = _linear_fit(results["points"]["memamba"])
    results["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(results, indent=2))
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png').name}")


def _linear_fit(points: dict) -> dict | None:
    """Least-squares peak RSS = a + b·N over the ok points: b in GiB per 100k patches, a, and the worst residual."""
    ok = sorted((int(n), r["peak_rss_gib"]) for n, r in points.items() if r["status"] == "ok")
    if len(ok) < 2:
        return None
    ns = [n for n, _ in ok]
    ys = [y for _, y in ok]
    mn, my = sum(ns) / len(ns), sum(ys) / len(ys)
    b = sum((n - mn) * (y - my) for n, y in ok) / max(sum((n - mn) ** 2 for n in ns), 1e-12)
    a = my - b * mn
    worst = max(abs(y - (a + b * n)) for n, y in ok)
    return {"gib_per_100k_patches": round(b * 1e5, 4), "intercept_gib": round(a, 4), "max_residual_gib": round(worst, 4)}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    labels = {"memamba": "ME-Mamba (linear)", "transmil": "TransMIL-like Transformer (quadratic)"}
    for model, pts in results["points"].items():
        ok = sorted((int(n), r) for n, r in pts.items() if r["status"] == "ok")
        if ok:
            ns = [n for n, _ in ok]
            ax1.plot(ns, [r["cpu_s"] for _, r in ok], "o-", label=labels[model] + ", CPU time")
            ax1.plot(ns, [r["seconds"] for _, r in ok], "x:", label=labels[model] + ", wall")
            ax2.plot(ns, [r["peak_rss_gib"] for _, r in ok], "o-", label=labels[model])
        for n, r in pts.items():
            if r["status"] != "ok":
                ax1.annotate("✗", (int(n), ax1.get_ylim()[1] if ok else 1), ha="center", color="red")
    for ax, what in ((ax1, "seconds (CPU time, and wall)"), (ax2, "peak RSS (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N patches")
        ax.set_ylabel(what)
        ax.legend()
    ax1.axhline(TARGET_S, ls=":", color="grey")
    ax2.axhline(TARGET_GIB, ls=":", color="grey")
    ax1.set_title(f"one-patient inference, {results['threads']} thread(s); ✗ = skipped/out of limits")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
