"""Surrogate-gradient training of a small LIF network on spike-encoded scikit-learn digits.

Task: the 8×8 digits (1797 images, stratified 75/25 split) as Poisson spike trains
(:func:`neuroplastic.data.spike_digits`). Network (time-major ``(T, B, n)``)::

    64 inputs -> Linear -> LIF (hidden) [-> recurrent weights] -> Linear -> LIF (10 outputs)

trained with Adam on the cross-entropy of the output spike counts
(:func:`~neuroplastic.surrogate.spike_count_cross_entropy`), surrogate derivative = fast
sigmoid. The :class:`~neuroplastic.surrogate.Trainer` runs the epochs; after each epoch the test
set is evaluated. Energy: synaptic operations per test sample are counted exactly from the
recorded input/hidden rasters and the fan-out of each projection
(:func:`neuroplastic.energy.count_module_activity`).

The helpers below (:class:`TensorBatches`, :func:`train_classifier`, :func:`activity_metrics`,
:func:`curve_figures`) are shared with :mod:`.surrogate_randman`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_int
from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.surrogate_digits import DigitsConfig

__all__ = [
    "DigitsConfig",
    "TensorBatches",
    "activity_metrics",
    "build_digits_model",
    "curve_figures",
    "run",
    "train_classifier",
]


# ----------------------------------------------------------------------------- shared helpers
class TensorBatches:
    """Mini-batches of time-major spike tensors, reshuffled every pass.

    Parameters
    ----------
    x : Tensor, shape ``(T, N, n)``
        Inputs (bool or float); batches are returned as ``float32`` ``(T, B, n)``.
    y : Tensor, shape ``(N,)``
        Integer labels.
    batch_size : int
        Samples per batch (the last batch may be smaller).
    shuffle : bool
        Draw a new order every pass from ``generator`` (the Trainer reseeds it per epoch).
    seed : int
        Initial seed of ``generator``.
    """

    def __init__(
        self, x: Tensor, y: Tensor, batch_size: int, *, shuffle: bool = False, seed: int = 0
    ) -> None:
        if x.dim() != 3 or y.shape != (x.shape[1],):
            raise ValueError(
                f"x must be (T, N, n) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        self.x, self.y = x, y
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.shuffle = bool(shuffle)
        self.generator = torch.Generator().manual_seed(check_int("seed", seed, 0))

    def __len__(self) -> int:
        return -(-self.y.shape[0] // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = self.y.shape[0]
        order = (
            torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        )
        for lo in range(0, n, self.batch_size):
            idx = order[lo : lo + self.batch_size]
            yield self.x[:, idx].to(torch.float32), self.y[idx]


class _Timed:
    """Wrap a loader: record the wall time of each training step (while a batch is out)."""

    def __init__(self, loader: TensorBatches) -> None:
        self.loader, self.generator = loader, loader.generator
        self.step_s: list[float] = []

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for batch in self.loader:
            t0 = time.perf_counter()
            yield batch  # the trainer's step runs while the generator is suspended here
            self.step_s.append(time.perf_counter() - t0)


def train_classifier(
    model: nn.Module,
    train: TensorBatches,
    test: TensorBatches,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    predict: Callable[[Tensor], Tensor],
    lr: float,
    epochs: int,
    seed: int,
    progress: bool,
    checkpoint: Checkpointer | None = None,
    device: str = "cpu",
) -> tuple[list[dict[str, float]], float]:
    """Adam + :class:`~neuroplastic.surrogate.Trainer`; test metrics after every epoch.
    Trains on ``device``; the model is back on the CPU when it returns.

    Returns
    -------
    history : list of dict
        Per epoch: ``train_loss``, ``train_accuracy``, ``train_spike_rate``, ``test_loss``,
        ``test_accuracy``, ``test_spike_rate``, ``epoch``.
    ms_per_step : float
        Median wall time of one training step (forward, backward, optimizer update), ms.
    """
    from tqdm.auto import tqdm

    from ..surrogate import Trainer

    timed = _Timed(train)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    trainer = Trainer(
        model, opt, loss_fn, timed, epochs=epochs, predict=predict, seed=seed,
        progress=progress, device=device,
    )
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:  # model, Adam moments, epoch, history (batch order is per epoch)
        trainer.load_state(state[1], state[2])
    for _ in tqdm(range(trainer.epoch, epochs), desc="epochs", disable=not progress,
                  initial=trainer.epoch, total=epochs):
        m = trainer.train_epoch()
        m.update({f"test_{k}": v for k, v in trainer.evaluate(test).items()})
        if checkpoint is not None and trainer.epoch < epochs and checkpoint.due():
            checkpoint.save(trainer.epoch, *trainer.state())
    step_ms = torch.tensor(timed.step_s, dtype=torch.float64).median().item() * 1e3
    model.to("cpu")
    return trainer.history, step_ms


def activity_metrics(
    model: nn.Module,
    loader: TensorBatches,
    projections: Sequence[tuple[str, nn.Module]],
    lif_names: Sequence[str],
) -> dict[str, float]:
    """Spike rates per layer and exact SynOps per sample on ``loader`` (no gradients).

    Parameters
    ----------
    model
        The trained network.
    loader
        Evaluation batches.
    projections
        ``(name, module)`` of each projection whose *input* raster is counted: a
        ``TimeDistributed(nn.Linear)`` (input ``(T, B, n)``) or a recurrent ``nn.Linear``
        called once per step with ``(B, n)`` (its layer's spikes of the previous step).
    lif_names
        Names of the modules of ``model`` whose spike outputs give per-layer rates.

    Returns
    -------
    dict
        ``spike_rate_<layer>`` (spikes per neuron per step), ``synops_per_sample``,
        ``synops_<projection>_per_sample``, ``dense_macs_per_sample``.
    """
    from ..energy import count_module_activity
    from ..surrogate import TimeDistributed

    seen: dict[str, list[Tensor]] = {name: [] for name, _ in projections}
    mods = dict(model.named_modules())
    rates: dict[str, list[float]] = {name: [0.0, 0.0] for name in lif_names}
    hooks = []
    for name, mod in projections:
        hooks.append(mod.register_forward_pre_hook(
            lambda _m, args, key=name: seen[key].append(args[0].detach())
        ))
    def rate_hook(key: str) -> Callable:
        def hook(_m: nn.Module, _i: Any, out: Any) -> None:
            rates[key][0] += float(out[0].sum())
            rates[key][1] += out[0].numel()

        return hook

    for name in lif_names:
        hooks.append(mods[name].register_forward_hook(rate_hook(name)))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            for x, _ in loader:
                model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    layers = []
    for name, mod in projections:
        parts = seen[name]
        if parts[0].dim() == 2:  # recurrent matrix: called once per step with (B, n)
            steps = len(parts) // len(loader)
            xs = [torch.stack(parts[i : i + steps]) for i in range(0, len(parts), steps)]
        else:
            xs = parts
        weights = mod.module if isinstance(mod, TimeDistributed) else mod
        layers.append((torch.cat(xs, dim=1) > 0, weights))
    counts = count_module_activity(layers, names=[name for name, _ in projections])
    n = counts.batch
    out = {f"spike_rate_{k}": s / max(c, 1) for k, (s, c) in rates.items()}
    out["synops_per_sample"] = counts.synops / n
    out["dense_macs_per_sample"] = counts.dense_macs / n
    for layer in counts.layers:
        out[f"synops_{layer.name}_per_sample"] = layer.synops / n
    return out


def curve_figures(history: list[dict[str, float]], rates: dict[str, float], title: str) -> dict:
    """``curves`` (loss and accuracy per epoch) and ``spike_rates`` (bar per layer) figures."""
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for split in ("train", "test"):
        a1.plot(ep, [h[f"{split}_loss"] for h in history], "o-", label=split)
        a2.plot(ep, [h[f"{split}_accuracy"] for h in history], "o-", label=split)
    a1.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
    a2.set(xlabel="epoch", ylabel="accuracy", title=f"{title}: accuracy", ylim=(0, 1.02))
    a1.legend()
    a2.legend()
    fig.tight_layout()
    fig2, ax = plt.subplots(figsize=(4.5, 3.2))
    names = list(rates)
    ax.bar(names, [rates[k] for k in names], color="tab:blue")
    ax.set(ylabel="spikes / neuron / step", title=f"{title}: spike rate per layer (test)")
    fig2.tight_layout()
    return {"curves": fig, "spike_rates": fig2}


def _flat_metrics(history: list[dict[str, float]], extra: dict[str, Any]) -> dict[str, Any]:
    last = history[-1]
    m = {
        "test_accuracy": last["test_accuracy"],
        "test_loss": last["test_loss"],
        "train_accuracy": last["train_accuracy"],
        "train_loss": last["train_loss"],
        "best_test_accuracy": max(h["test_accuracy"] for h in history),
    }
    m.update(extra)
    return m


# ----------------------------------------------------------------------------- the experiment
def build_digits_model(config: DigitsConfig) -> nn.Module:
    """``Sequential(TD(Linear 64->H), LIF(H) | RecurrentLIF(H), TD(Linear H->10), LIF(10))``.

    Initial weights come from ``torch`` seeded with ``config.seed``.
    """
    from ..surrogate import (
        LIF,
        RecurrentLIF,
        Sequential,
        Surrogate,
        TimeDistributed,
        discrete_lif_params,
    )

    torch.manual_seed(config.seed)
    p = discrete_lif_params(config.beta, config.threshold, reset_mode="subtract")
    sg = Surrogate("fast_sigmoid", config.surrogate_slope)
    gen = torch.Generator().manual_seed(config.seed)
    hidden = (
        RecurrentLIF(config.hidden, p, surrogate=sg, generator=gen, recurrent_gain=0.5)
        if config.recurrent
        else LIF(config.hidden, p, surrogate=sg)
    )
    return Sequential(
        TimeDistributed(nn.Linear(64, config.hidden)),
        hidden,
        TimeDistributed(nn.Linear(config.hidden, 10)),
        LIF(10, p, surrogate=sg),
    )


@register(
    "surrogate-digits", DigitsConfig,
    "Surrogate-gradient LIF network (64-H-10) on Poisson-encoded scikit-learn digits",
)
def run(config: DigitsConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from ..data import spike_digits
    from ..surrogate import spike_count_cross_entropy, spike_count_predict
    from ..surrogate.trainer import _check_device

    _check_device(config.device)  # before the data: no CUDA device is a clear error up front
    t0 = time.perf_counter()
    data = spike_digits(
        num_steps=config.num_steps, max_rate_hz=config.max_rate_hz,
        test_size=config.test_size, seed=config.seed,
    )
    train = TensorBatches(data.spikes_train, data.y_train, config.batch_size, shuffle=True,
                          seed=config.seed)
    test = TensorBatches(data.spikes_test, data.y_test, 256)
    model = build_digits_model(config)
    history, step_ms = train_classifier(
        model, train, test, loss_fn=spike_count_cross_entropy, predict=spike_count_predict,
        lr=config.lr, epochs=config.epochs, seed=config.seed, progress=progress,
        checkpoint=checkpoint, device=config.device,
    )
    layers = model.layers
    projections = [("input_hidden", layers[0]), ("hidden_output", layers[2])]
    if config.recurrent:
        projections.append(("hidden_hidden", layers[1].recurrent))
    act = activity_metrics(model, test, projections, ["layers.1", "layers.3"])
    act = {k.replace("layers.1", "hidden").replace("layers.3", "output"): v
           for k, v in act.items()}
    act["spike_rate_input"] = float(data.spikes_test.float().mean())
    rates = {k[len("spike_rate_"):]: v for k, v in act.items() if k.startswith("spike_rate_")}
    metrics = _flat_metrics(history, {
        **act, "n_train": int(data.y_train.numel()), "n_test": int(data.y_test.numel()),
        "device": config.device,
    })
    arrays = {
        "test_accuracy_per_epoch": torch.tensor([h["test_accuracy"] for h in history]),
        "train_loss_per_epoch": torch.tensor([h["train_loss"] for h in history]),
    }
    return Result(metrics=metrics, figures=curve_figures(history, rates, "digits"),
                  arrays={**arrays, **{f"model.{k}": v for k, v in model.state_dict().items()}},
                  curves={k: [h[k] for h in history] for k in history[0] if k != "epoch"},
                  timings={"ms_per_step": step_ms, "train_wall_s": time.perf_counter() - t0})
