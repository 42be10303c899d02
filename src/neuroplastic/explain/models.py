"""The surrogate-gradient networks explained here: build, train, and load from a run folder."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from .._validation import check_int, check_positive

__all__ = ["fit", "load_surrogate_digits", "spiking_mlp"]


def spiking_mlp(n_in: int, hidden: int, n_out: int, *, seed: int, beta: float = 0.9,
                threshold: float = 1.0, slope: float = 25.0) -> nn.Module:
    """``Sequential(TD(Linear), LIF, TD(Linear), LIF)`` as in ``surrogate-digits``, seeded."""
    from ..surrogate import LIF, Sequential, Surrogate, TimeDistributed, discrete_lif_params

    for name, v in (("n_in", n_in), ("hidden", hidden), ("n_out", n_out)):
        check_int(name, v, 1)
    torch.manual_seed(check_int("seed", seed, 0))
    p = discrete_lif_params(beta, threshold, reset_mode="subtract")
    sg = Surrogate("fast_sigmoid", check_positive("slope", slope))
    return Sequential(TimeDistributed(nn.Linear(n_in, hidden)), LIF(hidden, p, surrogate=sg),
                      TimeDistributed(nn.Linear(hidden, n_out)), LIF(n_out, p, surrogate=sg))


def fit(model: nn.Module, x: Tensor, y: Tensor, *, epochs: int, lr: float, batch_size: int,
        seed: int) -> list[dict[str, float]]:
    """Adam on the spike-count cross-entropy (the ``surrogate-digits`` recipe); the history."""
    from ..experiments.surrogate_digits import TensorBatches, train_classifier
    from ..surrogate import spike_count_cross_entropy, spike_count_predict

    train = TensorBatches(x, y, batch_size, shuffle=True, seed=seed)
    history, _ = train_classifier(
        model, train, TensorBatches(x, y, 512), loss_fn=spike_count_cross_entropy,
        predict=spike_count_predict, lr=lr, epochs=epochs, seed=seed, progress=False)
    return history


def load_surrogate_digits(run_dir: str | Path) -> tuple[nn.Module, object]:
    """The trained network of a finished ``surrogate-digits`` run folder and its config.

    Raises ``ValueError`` naming the file when the folder holds another model (or none).
    """
    from safetensors.torch import load_file

    from ..experiments.configs.surrogate_digits import DigitsConfig
    from ..experiments.surrogate_digits import build_digits_model

    run_dir = Path(run_dir)
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise ValueError(f"{run_json}: not found (not a finished result folder)")
    meta = json.loads(run_json.read_text())
    name = meta.get("experiment")
    if name != "surrogate-digits":
        raise ValueError(f"{run_json}: run of {name!r}, explain needs a surrogate-digits or "
                         "stdp-digits model checkpoint")
    cfg = json.loads((run_dir / "config.json").read_text()).get("config", {})
    config = DigitsConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    if config.recurrent:
        raise ValueError(f"{run_dir / 'config.json'}: recurrent=True is not supported by "
                         "explain yet")
    arrays = run_dir / "arrays.safetensors"
    state = {k[len("model."):]: v for k, v in load_file(str(arrays)).items()
             if k.startswith("model.")}
    model = build_digits_model(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{arrays}: not the weights of this surrogate-digits model "
                         f"({str(e).splitlines()[0]})") from None
    return model.eval(), config
