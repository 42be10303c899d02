"""A5: Randman (Zenke & Vogels 2021, 10 classes, paper scale) — test accuracy, same recipe.

Data: :func:`neuroplastic.data.make_randman` with ``RandmanParams()`` defaults (10 classes,
20 units, D = 1, alpha = 1, 1000 samples per class, 100 steps of 1 ms), 80/10/10 split, the
test part is scored. Recipe shared by both libraries (``surrogate-randman`` experiment
defaults unless overridden): ``Linear(20, 128) -> LIF(beta 0.95, threshold 1, subtract reset)
-> Linear(128, 10) -> leaky-integrator readout (beta 0.95)``, fast-sigmoid surrogate (slope 25),
cross-entropy on the readout's maximum membrane over time, Adam, same lr, epochs, batch size,
batch order and *identical initial weights* (snnTorch's Linear layers are loaded from ours).

snnTorch uses ``snn.Leaky(beta, threshold=1, spike_grad=fast_sigmoid(25),
reset_mechanism="subtract", reset_delay=False)`` and ``snn.Leaky(beta, reset_mechanism="none")``
as readout. Its update equals ours except after a spike that leaves the membrane still above
threshold: snnTorch then subtracts the threshold once more at the start of the next step (its
reset flag is computed from the post-reset membrane), ours does not. With identical weights the
readouts of the first 64 training samples therefore agree until the first such double crossing
and then drift apart (``init_forward_max_abs_diff`` 0.56 with readouts in [-2.4, 2.4], mean
absolute difference 0.06 against a mean absolute readout of 0.70).
The training loop (shuffling, loss, optimizer) is the same code for both.

    /work/peers/bin/python benchmarks/a5_randman.py [--quick] [--seeds 3] [--epochs N]
        [--first-seed S]

Last line: JSON with the median test accuracy over seeds of each library and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, pin_threads  # noqa: E402


def snntorch_model(ours, beta: float, slope: float):
    """snnTorch network with the same layers and the same initial weights as ``ours``."""
    import snntorch as snn
    import torch
    from snntorch import surrogate
    from torch import nn

    fc1 = nn.Linear(ours.layers[0].module.in_features, ours.layers[0].module.out_features)
    fc2 = nn.Linear(ours.layers[2].module.in_features, ours.layers[2].module.out_features)
    fc1.load_state_dict(ours.layers[0].module.state_dict())
    fc2.load_state_dict(ours.layers[2].module.state_dict())

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = fc1, fc2
            self.lif = snn.Leaky(beta=beta, threshold=1.0, spike_grad=surrogate.fast_sigmoid(
                slope=slope), reset_mechanism="subtract", reset_delay=False)
            self.readout = snn.Leaky(beta=beta, reset_mechanism="none")

        def forward(self, x):  # (T, B, n_in) -> readout membrane (T, B, C)
            cur = self.fc1(x)
            mem = self.lif.init_leaky()
            spk = []
            for t in range(x.shape[0]):
                s, mem = self.lif(cur[t], mem)
                spk.append(s)
            cur2 = self.fc2(torch.stack(spk))
            mem2 = self.readout.init_leaky()
            out = []
            for t in range(x.shape[0]):
                _, mem2 = self.readout(cur2[t], mem2)
                out.append(mem2)
            return torch.stack(out)

    return Net()


def train_eval(model, forward, data, cfg, seed: int) -> tuple[float, float]:
    """Same loop for both libraries: returns (test accuracy, median ms per training step)."""
    import torch
    import torch.nn.functional as F

    xtr, ytr, xte, yte = data
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    steps = []
    for _ in range(cfg.epochs):
        order = torch.randperm(ytr.numel(), generator=gen)
        for lo in range(0, ytr.numel(), cfg.batch_size):
            idx = order[lo : lo + cfg.batch_size]
            t0 = time.perf_counter()
            out = forward(xtr[:, idx])
            loss = F.cross_entropy(out.max(0).values, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps.append(time.perf_counter() - t0)
    correct = 0
    with torch.no_grad():
        for lo in range(0, yte.numel(), 500):
            out = forward(xte[:, lo : lo + 500])
            correct += int((out.max(0).values.argmax(-1) == yte[lo : lo + 500]).sum())
    return correct / yte.numel(), statistics.median(steps) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer epochs and one seed")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first..first+seeds-1")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    pin_threads(args.threads)
    import dataclasses

    import torch

    from neuroplastic.experiments.surrogate_randman import (
        RandmanConfig,
        build_randman_model,
        randman_splits,
    )

    torch.set_num_threads(args.threads)
    epochs = args.epochs or (2 if args.quick else RandmanConfig().epochs)
    seeds = 1 if args.quick else args.seeds
    base = dataclasses.replace(RandmanConfig(), epochs=epochs)
    tr, _va, te = randman_splits(base)
    data = (tr.dense(base.num_steps, 1.0).float(), tr.labels,
            te.dense(base.num_steps, 1.0).float(), te.labels)
    try:
        import snntorch  # noqa: F401

        have_snn = True
    except ImportError:
        have_snn = False
        print("snntorch not installed: skipped", file=sys.stderr)
    res: dict[str, list[float]] = {"ours": [], "snntorch": []}
    ms: dict[str, list[float]] = {"ours": [], "snntorch": []}
    diffs = []
    for seed in range(args.first_seed, args.first_seed + seeds):
        cfg = dataclasses.replace(base, seed=seed)
        ours = build_randman_model(cfg)
        peer = snntorch_model(ours, cfg.beta, cfg.surrogate_slope) if have_snn else None
        if peer is not None:
            with torch.no_grad():
                x0 = data[0][:, :64]
                diffs.append(float((ours(x0)[0] - peer(x0)).abs().max()))
        acc, step = train_eval(ours, lambda x, m=ours: m(x)[0], data, cfg, seed)
        res["ours"].append(acc)
        ms["ours"].append(step)
        print(f"seed {seed} ours: test acc {acc:.4f}, {step:.1f} ms/step", file=sys.stderr)
        if peer is not None:
            acc, step = train_eval(peer, peer, data, cfg, seed)
            res["snntorch"].append(acc)
            ms["snntorch"].append(step)
            print(f"seed {seed} snntorch: test acc {acc:.4f}, {step:.1f} ms/step",
                  file=sys.stderr)
    ours_acc = statistics.median(res["ours"])
    peers = {"snntorch": statistics.median(res["snntorch"])} if have_snn else {}
    best = max(peers.values()) if peers else None
    print(json.dumps({
        "workload": f"Randman 10 classes (paper scale), {epochs} epochs, same recipe, "
                    f"median test accuracy over {seeds} seed(s)",
        "unit": "test accuracy",
        "ours": ours_acc,
        "peers": peers,
        "ratio_vs_best_peer": ours_acc / best if best else None,
        "better": "higher",
        "per_seed": res,
        "ms_per_step": {k: statistics.median(v) for k, v in ms.items() if v},
        "init_forward_max_abs_diff": max(diffs) if diffs else None,
        "machine": machine(),
        "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
