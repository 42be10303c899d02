"""A small trainer for spiking networks: epochs, metrics, checkpoints, resume, DDP.

* Metrics per epoch: loss, accuracy and mean spike rate (over every LIF layer of the model,
  recorded by forward hooks), for training and validation; a tqdm bar per epoch.
* Checkpoints are ``checkpoint.safetensors`` (model and optimizer tensors) plus
  ``checkpoint.json`` (epoch, history, optimizer hyper-parameters); no pickle.
* Resume is bit-exact: every epoch starts by seeding torch's generator (and the loader's, if it
  has one) from ``(seed, epoch)``, so shuffling and dropout of epoch ``e`` do not depend on how
  the run got there.
* Under ``torch.distributed`` the model is wrapped in ``DistributedDataParallel`` (gradients
  averaged over ranks), metrics are summed over ranks, only rank 0 writes checkpoints. Give each
  rank its shard of the data (``DistributedSampler``; its ``set_epoch`` is called).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import check_int
from .layers import RecurrentLIF, _LIFNeurons
from .losses import RateRegularizer, spike_count_predict

__all__ = ["Trainer", "record_spikes"]


@contextmanager
def record_spikes(model: nn.Module):
    """Collect the spike outputs of every LIF layer of ``model`` during the block.

    Yields a list that fills with one tensor per layer call (graph kept, so a
    :class:`~.losses.RateRegularizer` can use it).
    """
    out: list[Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, o: out.append(o[0]))
        for m in model.modules()
        if isinstance(m, (_LIFNeurons, RecurrentLIF))
    ]
    try:
        yield out
    finally:
        for h in hooks:
            h.remove()


def _first(output: Any) -> Tensor:
    return output[0] if isinstance(output, tuple) else output


def _check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``; a clear ``ValueError`` for an unknown name or a CUDA
    device this machine does not have."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must name a torch device ('cpu', 'cuda', 'cuda:1', ...), "
                         f"got {device!r} ({e})") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ValueError(f"device={device!r} but this machine has no CUDA device "
                             "(torch.cuda.is_available() is False)")
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"device={device!r} but this machine has {n} CUDA device(s)")
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu' or a CUDA device, got {device!r}")
    return dev


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


class Trainer:
    """Fit a model with a loss on ``(x, y)`` batches.

    Parameters
    ----------
    model
        Returns a tensor or ``(tensor, state)`` (all neuroplastic layers and ``Sequential``);
        the tensor is what ``loss_fn`` and ``predict`` receive.
    optimizer
        Any ``torch.optim`` optimizer over ``model``'s parameters.
    loss_fn
        ``loss_fn(output, y) -> scalar`` (e.g. :func:`~.losses.spike_count_cross_entropy`).
    train_loader, val_loader
        Iterables of ``(x, y)``; time-major ``x`` for multi-step models.
    epochs
        Total number of epochs :meth:`fit` runs to (a resumed trainer continues to it).
    regularizer
        Optional firing-rate penalty added to the loss (spikes of every LIF layer).
    predict
        ``predict(output) -> labels (B,)`` for the accuracy metric.
    seed
        Seeds every epoch (shuffling, dropout) from ``(seed, epoch)``.
    checkpoint_dir
        Where :meth:`fit` writes a checkpoint after every epoch (``None``: never).
    progress
        Show a tqdm bar per epoch (rank 0 only).
    device
        Where to train (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...; ``None``: wherever the model
        and the batches already are). The model is moved there once, each batch as it comes;
        checkpoints hold CPU tensors either way, so a run can resume on another device.
        Under ``torch.distributed`` (the lab's gloo ranks) only the CPU.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        train_loader: Iterable,
        *,
        val_loader: Iterable | None = None,
        epochs: int = 1,
        regularizer: RateRegularizer | None = None,
        predict: Callable[[Tensor], Tensor] = spike_count_predict,
        seed: int = 0,
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
        device: str | torch.device | None = None,
    ) -> None:
        self.epochs = check_int("epochs", epochs, 1)
        self.device = None if device is None else _check_device(device)
        if self.device is not None and self.device.type != "cpu" and _distributed():
            raise ValueError(f"device={device!r}: distributed training runs on the CPU here "
                             "(gloo ranks); leave device unset or 'cpu'")
        if self.device is not None:
            model.to(self.device)  # parameters moved in place: the optimizer keeps them
        self.seed = check_int("seed", seed, 0)
        if regularizer is not None and not isinstance(regularizer, RateRegularizer):
            raise ValueError(f"regularizer must be a RateRegularizer, got {regularizer!r}")
        self.module = model  # unwrapped, for checkpoints and hooks
        if _distributed() and not isinstance(model, nn.parallel.DistributedDataParallel):
            model = nn.parallel.DistributedDataParallel(model)
        self.model = model
        self.optimizer, self.loss_fn, self.predict = optimizer, loss_fn, predict
        self.train_loader, self.val_loader = train_loader, val_loader
        self.regularizer = regularizer
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.progress = progress
        self.epoch = 0  # completed epochs
        self.history: list[dict[str, float]] = []

    # ------------------------------------------------------------------ loop
    @property
    def rank(self) -> int:
        return dist.get_rank() if _distributed() else 0

    def _seed_epoch(self, epoch: int) -> None:
        s = self.seed * 1_000_003 + epoch
        torch.manual_seed(s)
        for obj in (self.train_loader, getattr(self.train_loader, "sampler", None)):
            gen = getattr(obj, "generator", None)
            if isinstance(gen, torch.Generator):
                gen.manual_seed(s)
        sampler = getattr(self.train_loader, "sampler", None)
        set_epoch = getattr(sampler, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)

    def _reduce(self, sums: list[float]) -> list[float]:
        if not _distributed():
            return sums
        t = torch.tensor(sums, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def _run(self, loader: Iterable, train: bool, desc: str) -> dict[str, float]:
        self.model.train(train)
        loss_sum = correct = count = rate_sum = rate_n = 0.0
        bar = tqdm(loader, desc=desc, leave=False, disable=not self.progress or self.rank != 0)
        for x, y in bar:
            if self.device is not None:
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with torch.set_grad_enabled(train), record_spikes(self.module) as spikes:
                out = _first(self.model(x))
                loss = self.loss_fn(out, y)
                total = loss
                if self.regularizer is not None:
                    total = loss + self.regularizer(spikes)
            if train:
                self.optimizer.zero_grad(set_to_none=True)
                total.backward()
                self.optimizer.step()
            b = len(y)
            loss_sum += float(loss.detach()) * b
            correct += float((self.predict(out.detach()) == y).sum())
            count += b
            for s in spikes:
                rate_sum += float(s.detach().mean())
                rate_n += 1
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        loss_sum, correct, count, rate_sum, rate_n = self._reduce(
            [loss_sum, correct, count, rate_sum, rate_n]
        )
        return {
            "loss": loss_sum / max(count, 1),
            "accuracy": correct / max(count, 1),
            "spike_rate": rate_sum / max(rate_n, 1),
        }

    def train_epoch(self) -> dict[str, float]:
        """One pass over ``train_loader`` (seeded from ``(seed, epoch)``); returns metrics."""
        self._seed_epoch(self.epoch)
        m = {f"train_{k}": v for k, v in self._run(self.train_loader, True, "train").items()}
        if self.val_loader is not None:
            m.update({f"val_{k}": v for k, v in self.evaluate(self.val_loader).items()})
        self.epoch += 1
        m["epoch"] = self.epoch
        self.history.append(m)
        return m

    def evaluate(self, loader: Iterable) -> dict[str, float]:
        """Loss, accuracy and spike rate on ``loader`` without gradients."""
        return self._run(loader, False, "eval")

    def fit(self) -> list[dict[str, float]]:
        """Train until ``epochs`` epochs are done; checkpoint after each. Returns history."""
        while self.epoch < self.epochs:
            m = self.train_epoch()
            if self.progress and self.rank == 0:
                tqdm.write(" ".join(f"{k}={v:.4g}" for k, v in m.items()))
            if self.checkpoint_dir is not None:
                self.save(self.checkpoint_dir)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """``(tensors, meta)``: model and optimizer tensors, and the JSON-able rest (epoch,
        history, optimizer hyper-parameters) — what :meth:`save` writes."""
        tensors = {f"model.{k}": v.detach().cpu().contiguous()
                   for k, v in self.module.state_dict().items()}
        osd = self.optimizer.state_dict()
        extra: dict[str, dict[str, Any]] = {}
        for idx, st in osd["state"].items():
            for key, val in st.items():
                if isinstance(val, Tensor):
                    tensors[f"optim.{idx}.{key}"] = val.detach().cpu().contiguous()
                else:
                    extra.setdefault(str(idx), {})[key] = val
        meta = {
            "epoch": self.epoch,
            "seed": self.seed,
            "history": self.history,
            "optimizer": type(self.optimizer).__name__,
            "param_groups": osd["param_groups"],
            "optimizer_extra_state": extra,
        }
        return tensors, meta

    def load_state(self, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned (model, optimizer, epoch, history)."""
        if meta["optimizer"] != type(self.optimizer).__name__:
            raise ValueError(
                f"checkpoint optimizer is {meta['optimizer']}, trainer has "
                f"{type(self.optimizer).__name__}"
            )
        model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        self.module.load_state_dict(model_sd)
        state: dict[int, dict[str, Any]] = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, idx, key = k.split(".", 2)
                state.setdefault(int(idx), {})[key] = v
        for idx, st in meta["optimizer_extra_state"].items():
            state.setdefault(int(idx), {}).update(st)
        self.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        self.epoch = int(meta["epoch"])
        self.history = list(meta["history"])

    def save(self, directory: str | Path) -> None:
        """Write ``checkpoint.safetensors`` + ``checkpoint.json`` into ``directory`` (rank 0)."""
        if self.rank != 0:
            return
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        tensors, meta = self.state()
        save_file(tensors, str(d / "checkpoint.safetensors"))
        (d / "checkpoint.json").write_text(json.dumps(meta, indent=1))

    def load(self, directory: str | Path) -> None:
        """Restore model, optimizer, epoch and history from :meth:`save`'s files."""
        from safetensors.torch import load_file

        d = Path(directory)
        meta = json.loads((d / "checkpoint.json").read_text())
        self.load_state(load_file(str(d / "checkpoint.safetensors")), meta)
