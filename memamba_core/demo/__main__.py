"""``python -m memamba_core.demo``: build the demo (and its checkpoint) recording progress for the dashboard.

The dashboard starts this in the background on a first start
(:mod:`memamba_core.demo.background`); ``--export-tables`` writes the tables of
a complete build as the project's shipped copy (:mod:`memamba_core.demo.shipped`)
after a generator change. ``memamba demo`` is the user's command for the same build.
"""

from __future__ import annotations

import argparse

from .background import run_build
from .profiles import PROFILES, get_profile


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m memamba_core.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full", choices=sorted(PROFILES), help="demo size (default full)")
    ap.add_argument("--workers", type=int, default=None, help="slide processes (default: the profile's)")
    ap.add_argument("--no-model", action="store_true", help="build the cohort only, not the demo checkpoint")
    ap.add_argument("--export-tables", action="store_true",
                    help="build the demo in this process, then write its tables to assets/demo-<profile>-tables/")
    args = ap.parse_args(argv)
    if args.export_tables:
        from .build import ensure_demo
        from .folder import demo_spec
        from .shipped import export_tables

        p = get_profile(args.profile)
        print(f"shipped tables: {export_tables(ensure_demo(p, workers=args.workers), p, demo_spec(p))}")
        return 0
    return run_build(args.profile, model=not args.no_model, workers=args.workers)


if __name__ == "__main__":
    raise SystemExit(main())
