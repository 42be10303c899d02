r"""Delta (threshold-crossing, send-on-delta) coding of time series, as in event cameras.

Each feature keeps a reference level :math:`r`, starting at the first sample
(:math:`r_0 = x_0`, no event at :math:`t = 0`). At every later step

.. math::

    \text{ON}_t = [x_t - r_{t-1} \ge \vartheta], \quad
    \text{OFF}_t = [r_{t-1} - x_t \ge \vartheta], \quad
    r_t = r_{t-1} + \vartheta\,(\text{ON}_t - \text{OFF}_t),

so the reference moves by exactly one threshold per event and the signal is reconstructed from
the events alone by :math:`\hat x_t = x_0 + \vartheta \sum_{s \le t}(\text{ON}_s - \text{OFF}_s)`
(:func:`delta_decode`). At most one event per feature and step is sent, so the reconstruction
error stays below the threshold, :math:`|x_t - \hat x_t| < \vartheta`, whenever the signal moves
by at most :math:`\vartheta` per step (:math:`|x_t - x_{t-1}| \le \vartheta`); faster changes
are followed at one threshold per step (a slew-rate limit, like a sensor's refractory period).

Output layout: one bool tensor ``(time, batch, 2, features)`` with polarity channel 0 = ON
(increase) and 1 = OFF (decrease); ``spikes.flatten(2)`` gives ``(time, batch, 2 * features)``
with all ON channels first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._validation import check_positive

__all__ = ["DeltaEncoder", "DeltaParams", "delta_decode", "delta_encode"]

ON, OFF = 0, 1  # indices of the polarity channel


@dataclass(frozen=True)
class DeltaParams:
    """Parameters of the delta code."""

    threshold: float = 0.1  # change of the signal that triggers one event (signal units)

    def __post_init__(self) -> None:
        check_positive("threshold", self.threshold)


def delta_encode(signal: Tensor, params: DeltaParams) -> Tensor:
    """Encode a time series as ON/OFF threshold-crossing events.

    Parameters
    ----------
    signal : Tensor, shape ``(time, batch, features)``
        Real-valued, finite time series; any float dtype and device.
    params : DeltaParams

    Returns
    -------
    Tensor, shape ``(time, batch, 2, features)``, dtype bool
        Channel 0: ON events (signal rose by ``threshold``), channel 1: OFF events. Step 0 never
        has events (the reference starts at ``signal[0]``).
    """
    if not torch.is_tensor(signal) or signal.dim() != 3:
        raise ValueError(
            "signal must be a tensor of shape (time, batch, features), got "
            f"{getattr(signal, 'shape', type(signal).__name__)}"
        )
    if signal.numel() and not torch.isfinite(signal).all():
        raise ValueError("signal must be finite")
    x = signal.to(torch.float64)
    th = params.threshold
    t_len, batch, feat = x.shape
    out = torch.zeros((t_len, batch, 2, feat), dtype=torch.bool, device=signal.device)
    if t_len == 0:
        return out
    x0 = x[0]
    net = torch.zeros_like(x0)  # integer net event count, kept in float64 (exact up to 2**53)
    for t in range(1, t_len):
        ref = x0 + th * net
        on = x[t] - ref >= th
        off = ref - x[t] >= th
        out[t, :, ON] = on
        out[t, :, OFF] = off
        net = net + on.to(net.dtype) - off.to(net.dtype)
    return out


def delta_decode(spikes: Tensor, initial: Tensor, params: DeltaParams) -> Tensor:
    """Reconstruct the signal from delta events and the initial sample.

    Parameters
    ----------
    spikes : Tensor, shape ``(time, batch, 2, features)``
        ON/OFF events from :func:`delta_encode`.
    initial : Tensor, shape ``(batch, features)``
        The first sample ``signal[0]`` (the starting reference).
    params : DeltaParams
        The parameters used to encode.

    Returns
    -------
    Tensor, shape ``(time, batch, features)``, float64
        ``initial + threshold * cumsum(ON - OFF)``, exactly the encoder's reference level.
    """
    net = spikes[:, :, ON].to(torch.float64) - spikes[:, :, OFF].to(torch.float64)
    return initial.to(torch.float64).unsqueeze(0) + params.threshold * torch.cumsum(net, dim=0)


class DeltaEncoder(nn.Module):
    """Thin module around :func:`delta_encode` (stateless: encodes whole sequences)."""

    def __init__(self, params: DeltaParams) -> None:
        super().__init__()
        self.params = params

    def forward(self, signal: Tensor) -> Tensor:
        return delta_encode(signal, self.params)
