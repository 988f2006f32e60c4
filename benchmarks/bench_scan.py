"""Selective scan speed: the pure-PyTorch path and the fused C kernel against the sequential reference.

Run from the repository root::

    python benchmarks/bench_scan.py --threads 1     # B=1, E=512, S=16, L=16384, float32
    python benchmarks/bench_scan.py --threads 2 --layout channels_last
    python benchmarks/bench_scan.py --length 4096 --threads 1

Measures, in one process, forward (under ``torch.no_grad``, the inference path) and
forward+backward CPU time (``time.process_time``, all threads of the process; on a
shared machine the single-thread CPU time is the idle-machine wall time) and wall
time of ``selective_scan_ref`` (one run each: it is the slow oracle), then of
``selective_scan_torch`` (``torch``) and ``selective_scan_cpu`` (``cpu``, the fused
kernel; skipped with the reason when it is unavailable), best of ``--repeats``
each, interleaved, with the speed-up ratio of each against the reference, the max
deviation from the reference (values and input gradients), and the peak resident
memory of each forward+backward in a fresh subprocess (VmHWM growth over the
process's resident memory once its inputs exist). Also times the fast paths over a
range of L to show their linear growth. ``--layout bel`` (default) gives the scan
(B, E, L)-contiguous inputs, as ``mamba_ssm`` takes them; ``channels_last`` gives
(B, E, L) views of (B, L, E) memory, as the Mamba block passes them. Writes
``benchmarks/results/bench_scan.json`` and ``bench_scan.png`` (``--out`` to change).
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
from memamba_core.ssm import selective_scan_cpu, selective_scan_ref, selective_scan_torch
from memamba_core.ssm.cpu_kernel import unavailable_reason

RESULTS = Path(__file__).resolve().parent / "results"
IMPLEMENTATIONS = {"reference": selective_scan_ref, "torch": selective_scan_torch, "cpu": selective_scan_cpu}
FAST = ("torch", "cpu")
LABELS = {"reference": "reference (sequential loop)", "torch": "torch (chunked PyTorch)", "cpu": "cpu (fused C kernel)"}


def make_inputs(
    batch: int, inner: int, state: int, length: int, seed: int = 0, layout: str = "bel"
) -> list[torch.Tensor]:
    """Mamba-like inputs: u, Δ (pre-softplus), A (S4D-real), B, C, D, z, Δ bias. Shapes as selective_scan;
    ``layout="channels_last"`` puts the (B, ·, L) tensors in (B, L, ·) memory."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, inner, length, generator=g)
    delta = torch.randn(batch, inner, length, generator=g) * 0.5
    A = -torch.arange(1, state + 1, dtype=torch.float32).repeat(inner, 1)
    B = torch.randn(batch, state, length, generator=g)
    C = torch.randn(batch, state, length, generator=g)
    D = torch.ones(inner)
    z = torch.randn(batch, inner, length, generator=g)
    bias = torch.log(torch.expm1(torch.full((inner,), 0.01)))
    tensors = [u, delta, A, B, C, D, z, bias]
    if layout == "channels_last":
        tensors = [t.transpose(1, 2).contiguous().transpose(1, 2) if t.ndim == 3 else t for t in tensors]
    return tensors


def run(name: str, inputs: list[torch.Tensor], backward: bool):
    """One call (forward under no_grad, or forward + backward); returns (Timing, y, input grads or None)."""
    fn = IMPLEMENTATIONS[name]
    leaves = [t.detach().requires_grad_(backward) for t in inputs]  # same memory (and layout) as the inputs
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
    inputs = make_inputs(args.batch, args.inner, args.state, args.length, layout=args.layout)
    before = _status_kib("VmRSS")
    run(args.child, inputs, backward=True)
    after = _status_kib("VmHWM")
    print(json.dumps({"peak_rss_growth_mib": (after - before) / 1024}))


def peak_memory(name: str, args: argparse.Namespace) -> float | None:
    cmd = [sys.executable, __file__, "--child", name, "--threads", str(args.threads), "--layout", args.layout]
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
    parser.add_argument("--layout", choices=["bel", "channels_last"], default="bel")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--no-sweep", action="store_true", help="skip the time-vs-L sweep")
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "bench_scan.json", help="JSON path (the PNG goes beside it)"
    )
    parser.add_argument("--child", choices=sorted(IMPLEMENTATIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_memory_child(args)
        return
    torch.set_num_threads(args.threads)
    why_not = unavailable_reason()
    fast = [name for name in FAST if name != "cpu" or why_not is None]
    inputs = make_inputs(args.batch, args.inner, args.state, args.length, layout=args.layout)
    results: dict = {
        "shape": {"B": args.batch, "E": args.inner, "S": args.state, "L": args.length, "dtype": "float32"},
        "layout": args.layout,
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {platform.processor()} ({torch.backends.cpu.get_cpu_capability()})",
        "command": "python " + " ".join(sys.argv),
        "fused_kernel": "available" if why_not is None else f"unavailable: {why_not}",
        "load_average_before": os.getloadavg(),
    }
    for name in fast:  # warm-up (and the kernel's build or load)
        run(name, make_inputs(args.batch, args.inner, args.state, 64), True)
    timings = {}
    for mode, backward in (("forward", False), ("forward+backward", True)):
        print(f"reference {mode} (one run; slow) ...", flush=True)
        t_ref, y_ref, g_ref = run("reference", inputs, backward)
        entry: dict = {"reference_cpu_s": t_ref.cpu, "reference_s": t_ref}
        runs: dict = {name: [] for name in fast}
        outputs = {}
        for _ in range(args.repeats):  # interleaved, so a change of load hits every path alike
            for name in fast:
                t, y, g = run(name, inputs, backward)
                runs[name].append(t)
                outputs[name] = (y, g)
        line = [f"  {mode}: CPU reference {t_ref.cpu:.2f} s"]
        for name in fast:
            best = min(runs[name], key=lambda t: t.cpu)
            y, g = outputs[name]
            entry[name] = {
                "cpu_s": best.cpu,
                "all_cpu_s": [t.cpu for t in runs[name]],
                "wall_s": min(runs[name]),
                "all_wall_s": list(runs[name]),
                "speedup_cpu": t_ref.cpu / best.cpu,
                "speedup_wall": t_ref / min(runs[name]),
                "max_abs_diff_y": float((y - y_ref).abs().max()),
            }
            if backward:
                entry[name]["max_rel_diff_grads"] = max(
                    float((a - b).abs().max() / b.abs().max().clamp_min(1e-12)) for a, b in zip(g, g_ref)
                )
            line.append(f"{name} {best.cpu:.3f} s ({entry[name]['speedup_cpu']:.1f}x)")
        timings[mode] = entry
        print(", ".join(line), f"| wall reference {t_ref:.2f} s, " + ", ".join(
            f"{name} {entry[name]['wall_s']:.3f} s ({entry[name]['speedup_wall']:.1f}x)" for name in fast
        ), flush=True)
    results["timings"] = timings
    if not args.no_memory:
        results["peak_rss_growth_mib_forward_backward"] = {
            name: peak_memory(name, args) for name in ("reference", *fast)
        }
        print("  peak RSS growth (MiB):", results["peak_rss_growth_mib_forward_backward"], flush=True)
    if not args.no_sweep:
        sweep: dict = {name: {} for name in fast}
        for length in sorted({args.length // 8, args.length // 4, args.length // 2, args.length}):
            part = make_inputs(args.batch, args.inner, args.state, length, layout=args.layout)
            for name in fast:
                fw = min((run(name, part, False)[0] for _ in range(2)), key=lambda t: t.cpu)
                fb = run(name, part, True)[0]
                sweep[name][str(length)] = {
                    "forward_cpu_s": fw.cpu, "forward_backward_cpu_s": fb.cpu, "forward_s": fw, "forward_backward_s": fb
                }
        results["length_sweep"] = sweep
    results["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(results, indent=2))
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png').name}")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    modes = list(results["timings"])
    names = ["reference"] + [n for n in FAST if n in results["timings"][modes[0]]]
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        secs = [
            results["timings"][m]["reference_cpu_s"] if name == "reference" else results["timings"][m][name]["cpu_s"]
            for m in modes
        ]
        xs = [x + (k - (len(names) - 1) / 2) * width for x in range(len(modes))]
        ax1.bar(xs, secs, width=width, label=LABELS[name])
        if name != "reference":
            for x, m, sec in zip(xs, modes, secs):
                ax1.annotate(f"{results['timings'][m][name]['speedup_cpu']:.1f}×", (x, sec), ha="center", va="bottom")
    ax1.set_xticks(list(range(len(modes))), modes)
    ax1.set_yscale("log")
    ax1.set_ylabel("CPU seconds (log)")
    shape = results["shape"]
    ax1.set_title(
        f"selective scan B={shape['B']} E={shape['E']} S={shape['S']} L={shape['L']}, "
        f"{results['layout']}, {results['threads']} thread(s)",
        fontsize=9,
    )
    ax1.legend(fontsize=8)
    for name, sweep in results.get("length_sweep", {}).items():
        lengths = sorted(int(k) for k in sweep)
        ax2.plot(lengths, [sweep[str(k)]["forward_cpu_s"] for k in lengths], "o-", label=f"{name} forward")
        ax2.plot(lengths, [sweep[str(k)]["forward_backward_cpu_s"] for k in lengths], "s--", label=f"{name} fwd+bwd")
    ax2.set_xlabel("L")
    ax2.set_ylabel("CPU seconds")
    ax2.set_title("fast paths: time vs L (linear)" if "length_sweep" in results else "(no length sweep in this run)")
    if "length_sweep" in results:
        ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
