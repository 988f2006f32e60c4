"""Training and inference speed with G = 281 pathway tokens (SurvPath's xena) against G = 6 MCAT families.

Run from the repository root::

    python benchmarks/leaderboard_tokens_speed.py                 # writes benchmarks/results/leaderboard_tokens_speed.json
    python benchmarks/leaderboard_tokens_speed.py --patches 500 --reps 3 --json /tmp/speed.json

Group sizes are the real ones (TCGA-BLCA's six families, TCGA-STAD's 281 xena
pathways) when the shared cohorts are there ($MEMAMBA_BLCA, $MEMAMBA_STAD), else
synthetic sizes with the same G and total genes. Timed, with one torch thread:

* **genomics path** (the leaderboard's ``memamba_genomics`` recipe): one training
  step over a batch of 32 patients (forward, backward, Adam step) and the no-grad
  inference of 32 patients;
* **full ME-Mamba** (pathology + genomics, default config: three scan branches, hard
  OT, interleaved 2G tokens in the Synergistic Expert): one training step of one
  patient with ``--patches`` patches × 1024 features, and its no-grad inference.

Median of ``--reps`` timed runs after one warm-up. The machine may be shared: the
load average at start is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_JSON = REPO / "benchmarks" / "results" / "leaderboard_tokens_speed.json"


def _sizes() -> dict[str, tuple[int, ...]]:
    from memamba_core.data import load_cohort

    out = {}
    blca = Path(os.environ.get("MEMAMBA_BLCA", REPO.parent / "shared" / "data" / "tcga_blca"))
    stad = Path(os.environ.get("MEMAMBA_STAD", REPO.parent / "shared" / "data" / "tcga_stad_survpath"))
    out["G=6 families (TCGA-BLCA)"] = tuple(load_cohort(blca).groups.sizes) if blca.is_dir() else (94, 334, 521, 468, 1496, 479)
    if stad.is_dir():
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            toml = Path(tmp) / "stad.toml"
            toml.write_text(f'root = "{stad}"\npathway_set = "xena"\n')
            out["G=281 xena pathways (TCGA-STAD)"] = tuple(load_cohort(toml).groups.sizes)
    else:
        out["G=281 xena pathways (synthetic)"] = tuple([6] * 281)
    return out


def _median(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def time_sizes(sizes: tuple[int, ...], patches: int, reps: int) -> dict:
    import torch

    from memamba_core.models import ModelConfig, build_model
    from memamba_core.survival.discrete import nll_loss

    torch.manual_seed(0)
    y, c = torch.zeros(32, dtype=torch.long), torch.zeros(32)
    gen = build_model(ModelConfig(model="memamba", modalities="genomics", omic_sizes=sizes, d_model=16, n_layers=1,
                                  scan_forward=False, scan_reverse=False, scan_ranked=False))
    opt = torch.optim.Adam(gen.parameters(), lr=1e-3)
    batch = [torch.randn(32, s) for s in sizes]

    def gen_step():
        opt.zero_grad()
        nll_loss(gen.genomics_logits(batch), y, c).backward()
        opt.step()

    def gen_infer():
        with torch.no_grad():
            gen.eval().genomics_logits(batch)
        gen.train()

    full = build_model(ModelConfig(path_input_dim=1024, omic_sizes=sizes))
    fopt = torch.optim.Adam(full.parameters(), lr=1e-4)
    path, omics = torch.randn(patches, 1024), [torch.randn(s) for s in sizes]

    def full_step():
        fopt.zero_grad()
        nll_loss(full(path, omics).logits.reshape(1, -1), y[:1], c[:1]).backward()
        fopt.step()

    def full_infer():
        with torch.no_grad():
            full.eval()(path, omics)
        full.train()

    return {
        "G": len(sizes), "genes": int(sum(sizes)),
        "genomics_path_train_step_32_patients_s": round(_median(gen_step, reps), 4),
        "genomics_path_inference_32_patients_s": round(_median(gen_infer, reps), 4),
        "full_memamba_train_step_1_patient_s": round(_median(full_step, reps), 4),
        "full_memamba_inference_1_patient_s": round(_median(full_infer, reps), 4),
        "params_genomics_path": sum(p.numel() for p in gen.parameters()),
        "params_full": sum(p.numel() for p in full.parameters()),
    }


def main(argv: list[str] | None = None) -> None:
    import torch

    from memamba_core.paths import atomic_write_text

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patches", type=int, default=1000, help="N patches of the full model's bag (default 1000)")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per row (default 5)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    load0 = os.getloadavg()
    rows = {name: time_sizes(s, args.patches, args.reps) for name, s in _sizes().items()}
    names = list(rows)
    ratio = {k: round(rows[names[1]][k] / rows[names[0]][k], 2) for k in rows[names[0]] if k.endswith("_s")}
    record = {"benchmark": "leaderboard_tokens_speed", "command": "python benchmarks/leaderboard_tokens_speed.py"
              + (f" --patches {args.patches}" if args.patches != 1000 else "") + (f" --reps {args.reps}" if args.reps != 5 else ""),
              "patches": args.patches, "reps": args.reps, "threads": 1, "rows": rows, "ratio_281_over_6": ratio,
              "cpu_count": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load0], "python": platform.python_version()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(record, indent=2) + "\n")
    for name, r in rows.items():
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in r.items()))
    print(f"ratio G=281 / G=6: {ratio} → {args.json}")


if __name__ == "__main__":
    main()
