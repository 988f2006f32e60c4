"""``memamba doctor``: the device, the backends in use, the kernels found (or why not), and a short speed table.

    report = run_doctor(sizes=DoctorSizes.quick())
    print(format_report(report))          # or json.dumps(report)

Speed rows, per device (the CPU, and the GPU where CUDA is at hand), default
ME-Mamba (d = 256, two layers, 1024-d patch features, six MCAT-sized gene groups):

* ``scan forward`` / ``scan backward`` — the selective scan of one (1, E = 512, L) sequence
  with the backend ``auto`` picks there (the fused C kernel on CPU, mamba-ssm on CUDA);
* ``inference`` — one patient of N patches, eval mode, no autograd (the streamed path on CPU);
* ``training step`` — one patient's forward, backward and Adam step.

Each row is the median of ``repeats`` timed runs after one warm-up; on CUDA the
device is synchronised around each run and the peak allocated memory is given.
Timings on a shared machine are noisy: the load average is recorded with them.
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from .errors import InputError

__all__ = ["DoctorSizes", "run_doctor", "format_report", "environment", "backends", "speed_table"]

OMIC_SIZES = (100, 300, 500, 450, 1500, 480)  # six MCAT-like gene families
D_IN = 1024


@dataclass(frozen=True)
class DoctorSizes:
    """Problem sizes of the speed table (``--quick``: small ones, seconds in all)."""

    scan_length: int = 20_000  # L of the scan rows
    infer_patches: int = 20_000  # N of the inference row
    train_patches: int = 15_000  # N of the training-step row
    repeats: int = 3  # timed runs per row (median reported)

    @classmethod
    def quick(cls) -> "DoctorSizes":
        return cls(scan_length=2_000, infer_patches=2_000, train_patches=1_500, repeats=2)

    def __post_init__(self):
        for name in ("scan_length", "infer_patches", "train_patches", "repeats"):
            if getattr(self, name) < 1:
                raise InputError(f"doctor: {name.replace('_', '-')} must be at least 1, got {getattr(self, name)}.")


def environment() -> dict:
    """Python, torch, CPU and GPU facts."""
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": f"{platform.machine()} ({torch.backends.cpu.get_cpu_capability()})",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "gpus": [],
    }
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            env["gpus"].append({"index": i, "name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                                "capability": f"{p.major}.{p.minor}"})
    return env


def _package_status(name: str, imported: bool, import_errors: dict[str, str]) -> str:
    if not imported:
        return f"not used: {import_errors.get(name, 'not importable')}"
    version = getattr(importlib.import_module(name), "__version__", "?")
    where = "in use for CUDA tensors" if torch.cuda.is_available() else "installed, but no CUDA device here"
    return f"{version}, {where}"


def backends() -> dict:
    """Scan backend per device, the kernels found (or why not), the slide readers."""
    from .slides.reader import BACKENDS as SLIDE_BACKENDS
    from .slides.reader import available_backends as slide_backends
    from .ssm import HAS_CAUSAL_CONV1D, HAS_MAMBA_SSM, active_backend
    from .ssm.cpu_kernel import library_path, unavailable_reason
    from .ssm.scan_cuda import KERNEL_IMPORT_ERRORS

    scan = {"cpu": active_backend("cpu")}
    if torch.cuda.is_available():
        scan["cuda"] = active_backend("cuda")
    why_cpu = unavailable_reason()
    found = set(slide_backends())
    readers = {}
    for name in SLIDE_BACKENDS:
        if name in found:
            readers[name] = getattr(importlib.import_module(name), "__version__", "available")
        else:
            try:
                importlib.import_module(name)
                readers[name] = "imports, but cannot be used"
            except Exception as err:  # the reason, whatever the import raised
                readers[name] = f"not available: {type(err).__name__}: {err}"
    return {
        "scan": scan,
        "kernels": {
            "fused CPU scan": f"built: {library_path()}" if why_cpu is None else f"not used: {why_cpu}",
            "mamba_ssm": _package_status("mamba_ssm", HAS_MAMBA_SSM, KERNEL_IMPORT_ERRORS),
            "causal_conv1d": _package_status("causal_conv1d", HAS_CAUSAL_CONV1D, KERNEL_IMPORT_ERRORS),
        },
        "slide_readers": readers,
    }


def _timed(fn: Callable[[], object], device: torch.device, repeats: int) -> dict:
    """Median seconds of ``fn`` over ``repeats`` runs after a warm-up; CUDA: synchronised, with the peak memory."""
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    fn()
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    row = {"seconds": round(statistics.median(times), 4)}
    if cuda:
        row["peak_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return row


def _scan_rows(device: torch.device, length: int, repeats: int) -> list[dict]:
    from .ssm import resolve_backend, selective_scan

    g = torch.Generator().manual_seed(0)
    E, S = 512, 16
    u, delta, z = (torch.randn(1, E, length, generator=g).to(device) for _ in range(3))
    A = (-torch.rand(E, S, generator=g) * 4 - 0.1).to(device)
    B, C = (torch.randn(1, S, length, generator=g).to(device) for _ in range(2))
    D, bias = (torch.randn(E, generator=g).to(device) for _ in range(2))
    leaves = [t.requires_grad_() for t in (u, delta, A, B, C, D, z, bias)]
    name = resolve_backend("auto", device, u.dtype)
    size = f"B=1 E={E} S={S} L={length}"

    def fwd():
        with torch.no_grad():
            return selective_scan(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)

    y = selective_scan(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)
    grad = torch.ones_like(y)

    def bwd():
        out = selective_scan(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)
        return torch.autograd.grad(out, leaves, grad)

    return [{"what": "scan forward", "size": size, "backend": name, **_timed(fwd, device, repeats)},
            {"what": "scan forward+backward", "size": size, "backend": name, **_timed(bwd, device, repeats)}]


def _patient(n: int, device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    path = torch.randn(n, D_IN, generator=g).to(device)
    return path, [torch.randn(s, generator=g).to(device) for s in OMIC_SIZES]


def _model_rows(device: torch.device, sizes: DoctorSizes) -> list[dict]:
    from .models import ModelConfig, build_model
    from .survival.discrete import nll_loss

    torch.manual_seed(0)
    model = build_model(ModelConfig(path_input_dim=D_IN, omic_sizes=OMIC_SIZES)).to(device)
    path, omics = _patient(sizes.infer_patches, device)

    def infer():
        with torch.no_grad():
            return model(path, omics).risk

    model.eval()
    rows = [{"what": "inference (one patient)", "size": f"N={sizes.infer_patches}", **_timed(infer, device, sizes.repeats)}]
    del path
    tpath, tomics = _patient(sizes.train_patches, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    y, c = torch.tensor([1], device=device), torch.tensor([0], device=device)

    def train_step():
        opt.zero_grad(set_to_none=True)
        out = model(tpath, tomics)
        loss = nll_loss(out.logits.reshape(1, -1), y, c) + out.mmd
        loss.backward()
        opt.step()

    model.train()
    rows.append({"what": "training step (fwd+bwd+Adam)", "size": f"N={sizes.train_patches}",
                 **_timed(train_step, device, sizes.repeats)})
    return rows


def speed_table(sizes: DoctorSizes, devices: list[torch.device]) -> list[dict]:
    """The speed rows (see module docstring) for each device."""
    rows = []
    for device in devices:
        for row in _scan_rows(device, sizes.scan_length, sizes.repeats) + _model_rows(device, sizes):
            rows.append({"device": str(device), **row})
    return rows


def run_doctor(sizes: DoctorSizes = DoctorSizes(), devices: list[str] | None = None, speed: bool = True) -> dict:
    """The whole report: environment, backends, and (``speed``) the speed table for ``devices``
    (default: the CPU, plus the first GPU when CUDA is available)."""
    if devices is None:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    devs = []
    for name in devices:
        try:
            dev = torch.device(name)
        except RuntimeError as err:
            raise InputError(f"doctor: unknown device {name!r} ({err}); use cpu or cuda.") from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InputError("doctor: --device cuda asked for, but torch sees no CUDA device here.")
        devs.append(dev)
    report = {"environment": environment(), "backends": backends(), "sizes": asdict(sizes)}
    if speed:
        report["speed"] = speed_table(sizes, devs)
        report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def format_report(report: dict) -> str:
    """The report as plain text: facts, then the speed table."""
    env, be = report["environment"], report["backends"]
    lines = [f"torch {env['torch']} · Python {env['python']} · {env['machine']} · {env['cpu_count']} CPU(s), "
             f"{env['torch_threads']} torch thread(s) · load {env['load_average']}"]
    if env["gpus"]:
        lines += [f"GPU {g['index']}: {g['name']}, {g['memory_gib']} GiB, compute {g['capability']} (CUDA {env['cuda_version']})"
                  for g in env["gpus"]]
    else:
        lines.append("GPU: none (torch sees no CUDA device)")
    lines.append("scan backend:")
    lines += [f"  {dev}: {text}" for dev, text in be["scan"].items()]
    lines.append("kernels:")
    lines += [f"  {name}: {text}" for name, text in be["kernels"].items()]
    lines.append("slide readers:")
    lines += [f"  {name}: {text}" for name, text in be["slide_readers"].items()]
    rows = report.get("speed") or []
    if rows:
        lines.append("")
        head = f"{'device':<8} {'what':<30} {'size':<26} {'seconds':>9} {'peak GiB':>9}"
        lines += [head, "-" * len(head)]
        for r in rows:
            peak = f"{r['peak_gib']:>9.3f}" if "peak_gib" in r else f"{'':>9}"
            what = r["what"] + (f" [{r['backend']}]" if "backend" in r else "")
            lines.append(f"{r['device']:<8} {what:<30} {r['size']:<26} {r['seconds']:>9.4f} {peak}")
        lines.append(f"(median of {report['sizes']['repeats']} runs; load average after: {report.get('load_average_after')})")
    return "\n".join(lines)
