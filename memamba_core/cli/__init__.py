"""The ``memamba`` command: demo cohort, feature extraction, training, evaluation, calibration, prediction, reports,
ablations, QuPath export, benchmarks, doctor.

Every subcommand's ``--help`` describes its inputs, outputs and an example.
Bad input (an :class:`~memamba_core.errors.InputError`) prints its message and
exits with status 2 — never a traceback. Ctrl-C exits 130; rerunning the same
``train`` / ``ablate`` command resumes where it stopped.

Multi-process training uses torchrun (PyTorch's launcher) with the same arguments::

    torchrun --nproc_per_node 2 -m memamba_core.cli train COHORT --out runs/x

Modules: :mod:`.parser` (every subcommand's arguments and help), :mod:`.commands`
(demo, extract, train, benchmark, evaluate, ablate, QuPath export, bench, doctor),
:mod:`.clinical` (calibrate, predict, report).
"""

from __future__ import annotations

import sys
import time

from ..errors import InputError
from .parser import build_parser

__all__ = ["main", "build_parser"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memamba`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"memamba {args.command}: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # another rank of a fold-parallel or sharded run stopped
        sharding = sys.modules.get("memamba_core.sharding")
        if sharding is None or not isinstance(err, sharding.ShardAborted):
            raise
        print(f"memamba {args.command}: stopped: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nmemamba {args.command}: interrupted at {time.strftime('%H:%M:%S')}; rerun the same command to resume.", file=sys.stderr)
        return 130
