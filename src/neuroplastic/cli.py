"""Command line of the neuroplastic lab.

``neuroplastic list``                                   the experiments, grouped by topic
``neuroplastic run NAME [--set k=v ...] [--out DIR]``   run one, write its result folder
``neuroplastic report DIR`` / ``show DIR``              rebuild report.html / print a summary
``neuroplastic compare DIR DIR ...``                    configs that differ, metrics, curves
``neuroplastic sweep NAME --grid k=v1,v2 --seeds N``    a grid x seeds, resumable, summarised

``neuroplastic run NAME --help``                         every config key: type, default, unit

Configuration errors (unknown keys, wrong types, out-of-range values) exit with status 2
before any work starts — before torch is imported — and the message names the key, the value
and what was expected. Every user error (a damaged file, a folder that cannot be used, a
missing data set) ends in one line naming the file or parameter, exit status 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

EXIT_CONFIG = 2


def _err(msg: str) -> int:
    print(f"neuroplastic: error: {msg}", file=sys.stderr)
    return EXIT_CONFIG


def _cmd_list(args: argparse.Namespace) -> int:
    from .experiments import registry
    from .lab.runner import load_modules

    try:
        load_modules(args.module or [])
    except ValueError as e:
        return _err(str(e))
    from .experiments.configs import OTHER, TOPICS, topics

    try:
        topic_of = topics()
    except ValueError as e:
        return _err(str(e))
    groups: dict[str, list[str]] = {t: [] for t in (*TOPICS, OTHER)}
    reg = registry()
    for name in reg:
        groups[topic_of.get(name, OTHER)].append(name)
    first_group = True
    for topic, names in groups.items():
        if not names:
            continue
        print(("" if first_group else "\n") + f"{topic}:")
        first_group = False
        for name in names:
            first = (reg[name].description or "").strip().splitlines()
            print(f"  {name:24s} {first[0] if first else ''}")
    return 0


def _config_cls(args: argparse.Namespace) -> type:
    """The config class of ``args.name``: from the torch-free catalog when it is there, else by
    importing the experiments (and ``--module``)."""
    from .experiments.configs import catalog

    cls = None if args.module else catalog().get(args.name)
    if cls is not None:
        return cls
    from .lab.runner import find_experiment, load_modules

    load_modules(args.module or [])
    try:
        return find_experiment(args.name).config_cls
    except ValueError:
        import difflib

        from .experiments import registry

        names = list(registry())
        close = difflib.get_close_matches(args.name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown experiment {args.name!r}; {hint}"
                         f"known: {', '.join(names)} (neuroplastic list)") from None


def _resolve_config(args: argparse.Namespace, config_cls: type):
    """The validated config from --config and --set (raise ValueError naming the key)."""
    from .experiments.config import apply_overrides, config_from_dict
    from .lab.run_folder import read_json

    base = None
    if getattr(args, "config", None):
        data = read_json(args.config, "config file (--config)")
        if isinstance(data, dict) and data.get("experiment") not in (None, args.name):
            raise ValueError(f"--config {args.config} is for experiment "
                             f"{data['experiment']!r}, not {args.name!r}")
        base = config_from_dict(config_cls, data)
    return apply_overrides(config_cls, args.set or [], base=base)


def _resolve(args: argparse.Namespace):
    """Experiment and validated config from --module, --config, --set (raise ValueError)."""
    from .lab.runner import find_experiment, load_modules

    config = _resolve_config(args, _config_cls(args))
    load_modules(args.module or [])
    return find_experiment(args.name), config


def _print_experiment_help(args: argparse.Namespace) -> int:
    """``neuroplastic run NAME --help``: what the experiment does and every config key."""
    import textwrap

    from .experiments.params import describe

    cls = _config_cls(args)
    doc = None
    from .experiments.configs import catalog

    if args.module or args.name not in catalog():
        from .lab.runner import find_experiment

        doc = find_experiment(args.name).description
    doc = (doc or cls.__doc__ or "").strip()
    print(f"neuroplastic run {args.name} [--set KEY=VALUE ...] [--out DIR] [--resume] ...\n")
    if doc:
        print(textwrap.indent(doc.split("\n\n")[0], "  ") + "\n")
    rows = [(f.name, f.type, json.dumps(f.default, default=str),
             f.unit, f.domain, f.help) for f in describe(cls)]
    head = ("key", "type", "default", "unit", "allowed", "meaning")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    for r in [head, *rows]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5])
    cost = getattr(cls(), "cost", None)
    if callable(cost):
        print(f"\nwith the defaults: {cost().text()}")
    print("\nrun options: neuroplastic run --help")
    return 0


def _distributed_env() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "LOCAL_RANK" in os.environ


def _relaunch(args: argparse.Namespace, argv: list[str], out: Path) -> int:
    """Re-run this command under ``torch.distributed.run`` with ``--devices`` processes."""
    import subprocess

    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--devices" or a == "--out":
            skip = True
            continue
        if a.startswith("--devices=") or a.startswith("--out="):
            continue
        rest.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={args.devices}", "-m", "neuroplastic.cli", *rest, "--out", str(out)]
    print(f"[neuroplastic] launching {args.devices} processes: {' '.join(cmd)}", flush=True)
    return subprocess.call(cmd)


COST_LIMIT_S = 1800.0  # runs estimated longer than this need --yes


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.help:
        if not args.name:
            sub = next(a for a in _parser()._actions
                       if isinstance(a, argparse._SubParsersAction))
            sub.choices["run"].print_help()
            return 0
        return _print_experiment_help(args)
    if not args.name:
        raise ValueError("run: which experiment? (neuroplastic list shows them)")
    # configuration errors are reported before any work starts (and before torch is imported)
    if args.devices < 1:
        raise ValueError(f"--devices {args.devices}: expected an integer >= 1")
    if not (args.checkpoint_every >= 0 and args.checkpoint_every < float("inf")):
        raise ValueError(f"--checkpoint-every {args.checkpoint_every}: expected seconds >= 0")
    if args.resume and args.force:
        raise ValueError("--resume and --force contradict each other: continue the run in "
                         "--out, or replace it")
    config_cls = _config_cls(args)
    out = Path(args.out or Path("results") / f"{args.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    if args.resume and (out / "config.json").is_file() and not args.set and not args.config:
        from .experiments.config import config_from_dict
        from .lab.run_folder import read_json

        config = config_from_dict(config_cls, read_json(out / "config.json", "config file"))
    else:
        config = _resolve_config(args, config_cls)
    from .lab.run_folder import RunFolder, is_done

    RunFolder.check(out, args.name, config, resume=args.resume, force=args.force)
    if args.resume and is_done(out):
        print(f"[neuroplastic] {out} is already finished; nothing to do")
        return 0
    cost = getattr(config, "cost", None)
    if callable(cost):
        est = cost()
        print(f"[neuroplastic] {args.name}: estimated {est.text()}", file=sys.stderr, flush=True)
        if est.seconds > COST_LIMIT_S and not args.yes:
            raise ValueError(f"this run is estimated at {est.text()}, above the "
                             f"{COST_LIMIT_S / 60:.0f}-minute guard; pass --yes to run it, or "
                             "reduce it with --set")
    from .lab.runner import find_experiment, load_modules, run_point
    from .lab.tensorboard import MISSING_MESSAGE, tensorboard_available

    load_modules(args.module or [])
    exp = find_experiment(args.name)
    if args.tensorboard and not tensorboard_available():
        print(f"[neuroplastic] {MISSING_MESSAGE}", file=sys.stderr)
    if args.devices > 1 and not _distributed_env():
        return _relaunch(args, argv, out)
    if _distributed_env():
        import torch.distributed as dist

        dist.init_process_group("gloo")
    from .lab.world import world

    rank = world()[0]  # torchrun's rank, or mpirun's (NEST on several processes)
    # progress bars only on a terminal: in a log file they are escape-code noise
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        if rank == 0:
            print(f"[neuroplastic] {args.name}: "
                  f"{json.dumps(dataclasses.asdict(config), default=str)}", flush=True)
        metrics = run_point(exp, config, out, progress=progress, resume=args.resume,
                            force=args.force,
                            tensorboard=args.tensorboard and tensorboard_available(),
                            modules=args.module or [], argv=["neuroplastic", *argv],
                            checkpoint_every_s=args.checkpoint_every)
    finally:
        if _distributed_env():
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
    if rank != 0:
        return 0
    width = max((len(k) for k in metrics), default=0)
    for k, v in metrics.items():
        print(f"  {k:{width}s}  {v:.6g}" if isinstance(v, float) else f"  {k:{width}s}  {v}")
    print(f"[neuroplastic] wrote {out}/ (report.html, metrics.json, config.json, ...)")
    return 0


def _cmd_compile(args: argparse.Namespace) -> int:
    from .kernels.aot import build

    path = build(args.dir)
    print(f"[neuroplastic] kernels compiled ahead of time into {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .lab.report import build_report

    try:
        for d in args.dirs:
            print(build_report(d))
    except ValueError as e:
        return _err(str(e))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from .lab.report import summary_text
    from .lab.sweep import sweep_summary_text

    try:
        for d in args.dirs:
            if not Path(d).exists():  # an experiment name: its config keys
                ns = argparse.Namespace(name=d, module=None)
                _print_experiment_help(ns)
                continue
            if (Path(d) / "sweep.json").is_file():
                print(sweep_summary_text(d))
            else:
                print(summary_text(d))
    except ValueError as e:
        return _err(str(e))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .lab.compare import compare, write_compare

    try:
        cmp = compare(args.dirs, metrics=args.metric)
    except ValueError as e:
        return _err(str(e))
    print(cmp.text())
    out = Path(args.out or Path("results") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}")
    paths = write_compare(cmp, out)
    print(f"[neuroplastic] wrote {', '.join(str(p) for p in paths)}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    import importlib.util

    from .lab.sweep import check_sweep_folder, plan_sweep, run_sweep

    out = Path(args.out or Path("results") / f"sweep-{args.name}")
    try:
        if args.workers < 1:
            raise ValueError(f"--workers {args.workers}: expected an integer >= 1")
        if args.retries < 0:
            raise ValueError(f"--retries {args.retries}: expected an integer >= 0")
        if not 0 <= args.checkpoint_every < float("inf"):
            raise ValueError(f"--checkpoint-every {args.checkpoint_every}: expected seconds >= 0")
        if args.backend == "ray" and importlib.util.find_spec("ray") is None:
            raise ValueError("--backend ray: the 'ray' package is not installed "
                             "(pip install 'neuroplastic[ray]' or pip install ray)")
        plan = plan_sweep(args.name, args.grid or [], args.seeds, base_overrides=args.set or [],
                          modules=args.module or [])
        check_sweep_folder(plan, out)
    except (ValueError, TypeError) as e:
        return _err(str(e))
    failed = run_sweep(plan, out, backend=args.backend, workers=args.workers,
                       retries=args.retries, address=args.address, progress=not args.no_progress,
                       checkpoint_every_s=args.checkpoint_every)
    for key, why in failed.items():
        print(f"neuroplastic: point {key} failed: {why}", file=sys.stderr)
    if failed:
        print(f"neuroplastic: rerun the same command to retry the {len(failed)} failed points",
              file=sys.stderr)
    return 1 if failed else 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from .explain.pipeline import explain_run

    out = explain_run(args.dir, n_explain=args.n, seed=args.seed)
    print(f"[neuroplastic] wrote {out}/ (maps, curves, metrics.json, report.html)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuroplastic", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)

    def debug_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error instead of one line")

    def module_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--module", action="append", metavar="MODULE",
                       help="import extra experiments from a module name or .py file")

    p = sub.add_parser("list", help="list the experiments, grouped by topic")
    module_arg(p)
    debug_arg(p)
    p.set_defaults(fn=_cmd_list)

    p = sub.add_parser("run", help="run an experiment and write its result folder",
                       add_help=False)
    p.add_argument("-h", "--help", action="store_true",
                   help="with NAME: the experiment's config keys; without: this help")
    p.add_argument("name", nargs="?")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config field (repeatable)")
    p.add_argument("--config", metavar="JSON", help="start from a config file (e.g. config.json)")
    p.add_argument("--out", help="result folder (default results/NAME-TIMESTAMP)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --out from its last checkpoint")
    p.add_argument("--force", action="store_true",
                   help="replace the contents of a non-empty --out (refused without it)")
    p.add_argument("--yes", action="store_true",
                   help="run even if the estimated cost is above the 30-minute guard")
    p.add_argument("--checkpoint-every", type=float, default=30.0, metavar="SECONDS",
                   help="seconds between checkpoints of a resumable experiment (default 30; "
                        "0: at every opportunity)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files of the curves (OUT/tensorboard)")
    p.add_argument("--devices", type=int, default=1, metavar="N",
                   help="run N processes with torch.distributed (gloo, CPU) via torchrun")
    module_arg(p)
    debug_arg(p)
    p.set_defaults(fn=_cmd_run)

    p = sub.add_parser("report", help="(re)build report.html of result folders")
    p.add_argument("dirs", nargs="+")
    debug_arg(p)
    p.set_defaults(fn=_cmd_report)

    p = sub.add_parser("show", help="print a summary of result or sweep folders, or an "
                                    "experiment's config keys (neuroplastic show NAME)")
    p.add_argument("dirs", nargs="+")
    debug_arg(p)
    p.set_defaults(fn=_cmd_show)

    p = sub.add_parser("compare", help="compare result folders (table + overlaid curves)")
    p.add_argument("dirs", nargs="+")
    p.add_argument("--out", help="where compare.html/.png/.csv go (default results/compare-*)")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help="only these metrics in the table (repeatable)")
    debug_arg(p)
    p.set_defaults(fn=_cmd_compare)

    p = sub.add_parser("sweep", help="run a grid of configs x seeds (resumable)")
    p.add_argument("name")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2,...",
                   help="values of one config field (repeatable; the grid is the product)")
    p.add_argument("--seeds", type=int, default=1, metavar="N", help="seeds 0..N-1 per point")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="fixed override for every point")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--workers", type=int, default=1, metavar="K", help="parallel runs")
    p.add_argument("--address", help="Ray cluster address (default: start a local one)")
    p.add_argument("--retries", type=int, default=1, help="re-runs of a point whose worker died")
    p.add_argument("--checkpoint-every", type=float, default=30.0, metavar="SECONDS",
                   help="seconds between checkpoints of each point (default 30)")
    p.add_argument("--out", help="sweep folder (default results/sweep-NAME)")
    p.add_argument("--no-progress", action="store_true", help="quiet")
    module_arg(p)
    debug_arg(p)
    p.set_defaults(fn=_cmd_sweep)
    p = sub.add_parser("explain", help="explain the model of a finished run (surrogate-digits, "
                                       "surrogate-randman, stdp-digits, continual-digits, "
                                       "continual-stdp, cartpole, walk, lever-delay, "
                                       "force-field, eyeblink, sanger-pca): maps, "
                                       "deletion/insertion curves, report in DIR/explain")
    p.add_argument("dir")
    p.add_argument("--n", type=int, default=100,
                   help="test inputs (agents: visited states) explained (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random baselines and orders")
    debug_arg(p)
    p.set_defaults(fn=_cmd_explain)
    p = sub.add_parser("compile", help="compile the simulator's kernels ahead of time (~25 s, "
                                       "once per machine and version): later runs load them "
                                       "without numba (~105 MiB less memory, no start-up "
                                       "compile)")
    p.add_argument("--dir", help="cache folder (default $NEUROPLASTIC_AOT_DIR or "
                                 "~/.cache/neuroplastic/aot)")
    debug_arg(p)
    p.set_defaults(fn=_cmd_compile)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    from .lab.checkpointer import CheckpointError
    from .lab.run_folder import NonFiniteMetricError

    try:
        if args.fn is _cmd_run:
            return _cmd_run(args, [a for a in argv if a != "--debug"])
        return args.fn(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("neuroplastic: interrupted (a resumable run continues with --resume)",
              file=sys.stderr)
        return 130
    except (ValueError, OSError, CheckpointError) as e:
        # user errors: a bad value, a damaged or missing file, a folder that cannot be used
        if args.debug:
            raise
        msg = str(e) if not isinstance(e, OSError) or not e.filename else (
            f"{e.filename}: {e.strerror or e}")
        return _err(" ".join(msg.split()) or type(e).__name__)
    except NonFiniteMetricError as e:
        if args.debug:
            raise
        print(f"neuroplastic: error: {e}", file=sys.stderr)
        return 1
    except NotImplementedError as e:
        # a feature a backend cannot express (NEST, PyNN export): refused by name, not a bug
        if args.debug:
            raise
        return _err(f"not supported: {' '.join(str(e).split()) or 'this feature'}")
    except Exception as e:  # a bug, not a user error: say so in one line
        if args.debug:
            raise
        top = (getattr(e, "name", None) or "").split(".")[0]
        if isinstance(e, ModuleNotFoundError) and top and top != "neuroplastic":
            # an optional dependency (nest-simulator, deap, mujoco, ...) is not installed:
            # the user's environment, not a bug
            return _err(f"this needs the Python package {top!r}, which is not installed "
                        f"({e}); install it (see README.md) and rerun")
        print(f"neuroplastic: internal error: {type(e).__name__}: {e} (this is a bug; rerun "
              "with --debug for the traceback and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
