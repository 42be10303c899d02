"""Command line: ``neuroplastic list | run NAME [--set key=value ...] [--out DIR]``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path


def _cmd_list(_: argparse.Namespace) -> int:
    from .experiments import registry

    for name, exp in registry().items():
        first = (exp.description or "").strip().splitlines()
        print(f"{name:24s} {first[0] if first else ''}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiments import get, write_result
    from .experiments.config import apply_overrides

    try:  # configuration errors are reported before any work starts
        exp = get(args.name)
        config = apply_overrides(exp.config_cls, args.set or [])
    except (ValueError, TypeError) as e:
        print(f"neuroplastic: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out or Path("results") / f"{args.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"[neuroplastic] {args.name}: {json.dumps(dataclasses.asdict(config), default=str)}")
    t0 = time.perf_counter()
    result = exp.run(config, progress=not args.no_progress)
    wall = time.perf_counter() - t0
    write_result(out, args.name, config, result, wall, ["neuroplastic", *sys.argv[1:]])
    width = max((len(k) for k in result.metrics), default=0)
    for k, v in result.metrics.items():
        print(f"  {k:{width}s}  {v:.6g}" if isinstance(v, float) else f"  {k:{width}s}  {v}")
    print(f"[neuroplastic] wrote {out}/ (metrics.json, config.json, "
          f"{', '.join(f + '.png' for f in result.figures) or 'no plots'}) in {wall:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neuroplastic", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list the experiments")
    p_list.set_defaults(fn=_cmd_list)
    p_run = sub.add_parser("run", help="run an experiment and write its result folder")
    p_run.add_argument("name")
    p_run.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config field (repeatable)")
    p_run.add_argument("--out", help="result folder (default results/NAME-TIMESTAMP)")
    p_run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p_run.set_defaults(fn=_cmd_run)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
