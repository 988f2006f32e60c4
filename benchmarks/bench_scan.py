"""Selective scan speed: the fast pure-PyTorch path against the sequential reference.

Run from the repository root::

    python benchmarks/bench_scan.py                 # B=1, E=512, S=16, L=16384, float32
    python benchmarks/bench_scan.py --length 4096 --threads 1

Measures, in one process, forward (under ``torch.no_grad``, the inference path) and
forward+backward CPU time (``time.process_time``: on a shared machine the
single-thread CPU time is the idle-machine wall time) and wall time of
``selective_scan_ref`` (one run each: it is the slow oracle) and
``selective_scan_torch`` (best of ``--repeats``), the speed-up ratio, the max
deviation of the fast path from the reference (values and input gradients),
and the peak resident memory of each forward+backward in a fresh subprocess
(VmHWM growth over the process's resident memory once its inputs exist). Also times the
fast path over a range of L to show its linear growth. Writes
``benchmarks/results/bench_scan.json`` and ``bench_scan.png``.
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

from memamba_core.paths import atomic_write_text
from memamba_core.ssm import selective_scan_ref, selective_scan_torch

RESULTS = Path(__file__).resolve().parent / "results"
IMPLEMENTATIONS = {"reference": selective_scan_ref, "torch": selective_scan_torch}


def make_inputs(batch: int, inner: int, state: int, length: int, seed: int = 0) -> list[torch.Tensor]:
    """Mamba-like inputs: u, Δ (pre-softplus), A (S4D-real), B, C, D, z, Δ bias. Shapes as selective_scan."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, inner, length, generator=g)
    delta = torch.randn(batch, inner, length, generator=g) * 0.5
    A = -torch.arange(1, state + 1, dtype=torch.float32).repeat(inner, 1)
    B = torch.randn(batch, state, length, generator=g)
    C = torch.randn(batch, state, length, generator=g)
    D = torch.ones(inner)
    z = torch.randn(batch, inner, length, generator=g)
    bias = torch.log(torch.expm1(torch.full((inner,), 0.01)))
    return [u, delta, A, B, C, D, z, bias]


def run(name: str, inputs: list[torch.Tensor], backward: bool):
    """One call (forward under no_grad, or forward + backward); returns (Timing, y, input grads or None)."""
    fn = IMPLEMENTATIONS[name]
    leaves = [t.clone().requires_grad_(backward) for t in inputs]
    u, delta, A, B, C, D, z, bias = leaves
    cpu0, start = time.process_time(), time.perf_counter()
    with torch.set_grad_enabled(backward):
        y = fn(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)
    grads = None
    if backward:
        grads = torch.autograd.grad(y, leaves, torch.ones_like(y))
    return Timing(time.perf_counter() - start, time.process_time() - cpu0), y.detach(), grads


class Timing(float):
    """Wall seconds (the float value) with the process CPU seconds beside it (``.cpu``)."""

    def __new__(cls, wall: float, cpu: float):
        obj = super().__new__(cls, wall)
        obj.cpu = cpu
        return obj


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


def peak_memory_child(args: argparse.Namespace) -> None:
    """Subprocess body: print peak RSS growth (MiB) of one forward+backward of ``args.child``."""
    torch.set_num_threads(args.threads)
    inputs = make_inputs(args.batch, args.inner, args.state, args.length)
    before = _status_kib("VmRSS")
    run(args.child, inputs, backward=True)
    after = _status_kib("VmHWM")
    print(json.dumps({"peak_rss_growth_mib": (after - before) / 1024}))


def peak_memory(name: str, args: argparse.Namespace) -> float | None:
    cmd = [sys.executable, __file__, "--child", name, "--threads", str(args.threads)]
    cmd += ["--batch", str(args.batch), "--inner", str(args.inner), "--state", str(args.state), "--length", str(args.length)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    return json.loads(out.strip().splitlines()[-1])["peak_rss_growth_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--inner", type=int, default=512)
    parser.add_argument("--state", type=int, default=16)
    parser.add_argument("--length", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--child", choices=sorted(IMPLEMENTATIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_memory_child(args)
        return
    torch.set_num_threads(args.threads)
    inputs = make_inputs(args.batch, args.inner, args.state, args.length)
    results: dict = {
        "shape": {"B": args.batch, "E": args.inner, "S": args.state, "L": args.length, "dtype": "float32"},
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {platform.processor()} ({torch.backends.cpu.get_cpu_capability()})",
        "command": "python " + " ".join(sys.argv),
        "load_average_before": os.getloadavg(),
    }
    run("torch", make_inputs(args.batch, args.inner, args.state, 64), True)  # warm-up
    timings = {}
    for mode, backward in (("forward", False), ("forward+backward", True)):
        print(f"reference {mode} (one run; slow) ...", flush=True)
        t_ref, y_ref, g_ref = run("reference", inputs, backward)
        t_fast = []
        for _ in range(args.repeats):
            t, y_fast, g_fast = run("torch", inputs, backward)
            t_fast.append(t)
        best = min(t_fast, key=lambda t: t.cpu)
        entry = {
            "reference_cpu_s": t_ref.cpu,
            "torch_cpu_s": best.cpu,
            "torch_all_cpu_s": [t.cpu for t in t_fast],
            "speedup_cpu": t_ref.cpu / best.cpu,
            "reference_s": t_ref,
            "torch_s": min(t_fast),
            "torch_all_s": t_fast,
            "speedup": t_ref / min(t_fast),
            "max_abs_diff_y": float((y_fast - y_ref).abs().max()),
        }
        if backward:
            entry["max_rel_diff_grads"] = max(
                float((a - b).abs().max() / b.abs().max().clamp_min(1e-12)) for a, b in zip(g_fast, g_ref)
            )
        timings[mode] = entry
        print(
            f"  {mode}: CPU reference {t_ref.cpu:.2f} s, torch {best.cpu:.3f} s, speed-up {entry['speedup_cpu']:.1f}x"
            f" | wall reference {t_ref:.2f} s, torch {min(t_fast):.3f} s, speed-up {entry['speedup']:.1f}x",
            flush=True,
        )
    results["timings"] = timings
    if not args.no_memory:
        results["peak_rss_growth_mib_forward_backward"] = {name: peak_memory(name, args) for name in IMPLEMENTATIONS}
        print("  peak RSS growth (MiB):", results["peak_rss_growth_mib_forward_backward"], flush=True)
    sweep = {}
    for length in sorted({args.length // 8, args.length // 4, args.length // 2, args.length}):
        part = make_inputs(args.batch, args.inner, args.state, length)
        fw = min((run("torch", part, False)[0] for _ in range(2)), key=lambda t: t.cpu)
        fb = run("torch", part, True)[0]
        sweep[str(length)] = {"forward_cpu_s": fw.cpu, "forward_backward_cpu_s": fb.cpu, "forward_s": fw, "forward_backward_s": fb}
    results["torch_length_sweep"] = sweep
    results["load_average_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "bench_scan.json", json.dumps(results, indent=2))
    plot(results, RESULTS / "bench_scan.png")
    print(f"wrote {RESULTS / 'bench_scan.json'} and bench_scan.png")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    modes = list(results["timings"])
    ref = [results["timings"][m]["reference_cpu_s"] for m in modes]
    fast = [results["timings"][m]["torch_cpu_s"] for m in modes]
    xs = range(len(modes))
    ax1.bar([x - 0.2 for x in xs], ref, width=0.4, label="reference (sequential loop)")
    ax1.bar([x + 0.2 for x in xs], fast, width=0.4, label="torch (chunked)")
    for x, m in zip(xs, modes):
        ax1.annotate(f"{results['timings'][m]['speedup_cpu']:.1f}×", (x, max(ref[x], fast[x])), ha="center", va="bottom")
    ax1.set_xticks(list(xs), modes)
    ax1.set_yscale("log")
    ax1.set_ylabel("CPU seconds (log)")
    shape = results["shape"]
    ax1.set_title(f"selective scan B={shape['B']} E={shape['E']} S={shape['S']} L={shape['L']}, {results['threads']} thread(s)")
    ax1.legend()
    lengths = sorted(int(k) for k in results["torch_length_sweep"])
    sweep = results["torch_length_sweep"]
    ax2.plot(lengths, [sweep[str(k)]["forward_cpu_s"] for k in lengths], "o-", label="forward")
    ax2.plot(lengths, [sweep[str(k)]["forward_backward_cpu_s"] for k in lengths], "s-", label="forward+backward")
    ax2.set_xlabel("L")
    ax2.set_ylabel("CPU seconds")
    ax2.set_title("torch path: time vs L (linear)")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
