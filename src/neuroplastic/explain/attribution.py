"""Attributions of spiking networks over inputs *and time* (Captum, surrogate gradients).

Every method returns a map of the input's shape, batch first: ``(B, T, n)`` (time steps ×
input channels) for a time-major model ``(T, B, n) -> (T, B, classes)``.

* ``ig``, ``saliency``, ``gradient_shap``, ``occlusion`` — Captum's Integrated Gradients,
  Saliency (signed gradient), GradientSHAP and Occlusion on :class:`CountScore` (the output spike
  counts); the gradient flows through the surrogate derivative of the spike function.
* ``interventional`` — gradient-free: the input spikes of each (channel × time-window) block
  are deleted in the simulation (Captum's ``FeatureAblation`` with a block mask) and the drop of
  the target score is the block's attribution. Works for any black-box score, e.g. a network
  trained by STDP.
* :func:`spike_activation_map` — SAM (Kim & Panda 2021): the neuronal contribution score of
  every spike of a layer, ``s_t · Σ_{t'<t} s_{t'} e^{−γ (t − t')}``; needs no gradient.
* :func:`silenced` — silence chosen neurons of a layer during the forward pass (causal
  mediation: ablate, measure the change of the output).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_int, check_positive

__all__ = [
    "GRADIENT_METHODS",
    "METHODS",
    "CountScore",
    "attribute",
    "block_mask",
    "silenced",
    "spike_activation_map",
]

GRADIENT_METHODS = ("ig", "saliency", "gradient_shap", "occlusion")
METHODS = (*GRADIENT_METHODS, "interventional")


class CountScore(nn.Module):
    """Batch-first wrapper for Captum: ``(B, T, n)`` spikes -> ``(B, classes)`` scores.

    ``output="counts"``: output spike counts; ``"softmax"``: softmax of the counts (the
    model's class probabilities under :func:`~neuroplastic.surrogate.spike_count_predict`).
    """

    def __init__(self, model: nn.Module, output: str = "counts") -> None:
        super().__init__()
        self.model = model
        self.output = check_choice("output", output, ("counts", "softmax"))

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x.transpose(0, 1))
        spikes = out[0] if isinstance(out, tuple) else out
        counts = spikes.sum(0)
        return counts.softmax(-1) if self.output == "softmax" else counts


def block_mask(shape: tuple[int, int], window: int) -> Tensor:
    """``(T, n)`` integer feature mask: one group per (time window of ``window`` steps, channel)."""
    t, n = shape
    check_int("window", window, 1)
    w = torch.arange(t) // window
    return (w[:, None] * n + torch.arange(n)[None, :]).long()


def attribute(method: str, score: Callable[[Tensor], Tensor], x: Tensor, target: Tensor, *,
              seed: int = 0, n_steps: int = 32, n_samples: int = 16, window: int = 2,
              internal_batch_size: int | None = None) -> Tensor:
    """Attribution map ``(B, T, n)`` of ``score`` (batch first) at inputs ``x`` ``(B, T, n)``.

    Parameters
    ----------
    method
        One of :data:`METHODS`.
    score
        ``(B, T, n) -> (B, classes)``, e.g. :class:`CountScore`.
    target
        ``(B,)`` class explained for each input.
    seed
        Seeds the random baselines of GradientSHAP (Captum draws from torch's global RNG; it is
        forked, so the caller's stream is untouched).
    n_steps
        Riemann steps of Integrated Gradients.
    n_samples
        Random baselines × noise draws of GradientSHAP.
    window
        Time steps per block of Occlusion (sliding, stride 1) and of ``interventional``.
    """

    check_choice("method", method, METHODS)
    check_int("n_steps", n_steps, 1)
    check_int("n_samples", n_samples, 1)
    check_int("window", window, 1)
    return _attribute(method, score, x.to(torch.float32), target.long(), seed, n_steps,
                      n_samples, window, internal_batch_size).detach().contiguous()


def _attribute(method: str, score: Callable[[Tensor], Tensor], x: Tensor, target: Tensor,
               seed: int, n_steps: int, n_samples: int, window: int,
               internal_batch_size: int | None) -> Tensor:
    from captum import attr

    if method == "ig":
        return attr.IntegratedGradients(score).attribute(
            x, baselines=torch.zeros_like(x), target=target, n_steps=n_steps,
            internal_batch_size=internal_batch_size)
    if method == "saliency":
        return attr.Saliency(score).attribute(x.clone().requires_grad_(), target=target,
                                              abs=False)
    if method == "gradient_shap":
        # Captum draws the baselines and interpolation points from numpy's global generator
        # as well as torch's: seed both, and hand the caller's states back untouched
        import numpy as np

        np_state = np.random.get_state()  # noqa: NPY002 - Captum uses the legacy global RNG
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                np.random.seed(seed % 2**32)  # noqa: NPY002
                rate = x.mean(dim=(0, 1), keepdim=True).expand(8, *x.shape[1:])
                baselines = torch.cat([torch.zeros_like(rate), torch.bernoulli(rate)])
                return attr.GradientShap(score).attribute(
                    x, baselines=baselines, target=target, n_samples=n_samples,
                    stdevs=0.0)
        finally:
            np.random.set_state(np_state)  # noqa: NPY002
    if method == "occlusion":
        return attr.Occlusion(score).attribute(
            x, sliding_window_shapes=(window, 1), strides=(1, 1), baselines=0.0,
            target=target, perturbations_per_eval=_per_eval(x))
    mask = block_mask(tuple(x.shape[1:]), window).unsqueeze(0)
    return attr.FeatureAblation(score).attribute(
        x, baselines=0.0, target=target, feature_mask=mask,
        perturbations_per_eval=_per_eval(x))


def _per_eval(x: Tensor) -> int:
    """Perturbations per forward pass of Occlusion / FeatureAblation: ~4096 inputs a batch."""
    return max(1, 4096 // max(1, x.shape[0]))


def spike_activation_map(spikes: Tensor, gamma: float = 0.5) -> Tensor:
    """SAM (Kim & Panda 2021) of a raster ``(T, B, N)`` -> ``(B, T, N)``.

    ``NCS_t = s_t · Σ_{t' < t} s_{t'} exp(−γ (t − t'))``: a spike preceded by recent spikes of
    the same neuron scores high; the recurrence ``K_t = e^{−γ}(K_{t−1} + s_{t−1})`` computes the
    sum exactly.
    """
    g = check_positive("gamma", gamma)
    s = spikes.to(torch.float64)
    decay = torch.exp(torch.tensor(-g, dtype=torch.float64))
    k = torch.zeros_like(s[0])
    out = torch.empty_like(s)
    for t in range(s.shape[0]):
        if t:
            k = decay * (k + s[t - 1])
        out[t] = s[t] * k
    return out.transpose(0, 1)


@contextmanager
def silenced(layer: nn.Module, mask: Tensor) -> Iterator[None]:
    """Silence neurons of a spiking ``layer`` while inside: its spikes are multiplied by
    ``mask`` (``(N,)`` or ``(B, N)``, 0 = silenced) before they reach the next layer."""

    def hook(_m: nn.Module, _inp: object, out: object) -> object:
        spikes, state = out if isinstance(out, tuple) else (out, None)
        masked = spikes * mask.to(spikes.dtype)
        return (masked, state) if isinstance(out, tuple) else masked

    handle = layer.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
