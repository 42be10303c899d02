r""":class:`STDP`, a ``torch.nn.Module`` holding a pair-based rule's parameters, clock step and
sparse layout, dispatching to the trace rule or the spike-history rule."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_int
from ._stdp_events import _check_dt
from .stdp_history import SpikeHistoryState, init_history_state, stdp_history_step
from .stdp_layout import CSRLayout
from .stdp_pair import STDPState, init_stdp_state, stdp_step
from .stdp_params import STDPParams

__all__ = [
    "STDP",
]

class STDP(nn.Module):
    """Thin module over :func:`stdp_step` (trace windows) or :func:`stdp_history_step` (others).

    Holds the parameters, the clock step and the sparse layout; the state is explicit::

        rule = STDP(STDPParams(...), dt_ms=0.1)
        state = rule.init_state(batch, n_pre, n_post)
        w, state = rule(w, pre_spikes, post_spikes, state)
    """

    def __init__(
        self,
        params: STDPParams,
        *,
        dt_ms: float,
        csr: CSRLayout | None = None,
        history_capacity: int = 16,
    ) -> None:
        super().__init__()
        if not isinstance(params, STDPParams):
            raise ValueError(f"params must be STDPParams, got {type(params).__name__}")
        self.params = params
        self.dt_ms = _check_dt(dt_ms)
        self.csr = csr
        self.uses_traces = params.window.trace_form() is not None
        self.history_capacity = check_int("history_capacity", history_capacity, 1)

    def init_state(
        self, batch: int, n_pre: int, n_post: int, *, device: torch.device | str | None = None
    ) -> STDPState | SpikeHistoryState:
        if self.uses_traces:
            return init_stdp_state(batch, n_pre, n_post, device=device)
        cap = 1 if self.params.pairing == "nearest" else self.history_capacity
        return init_history_state(batch, n_pre, n_post, cap, device=device)

    def forward(
        self, w: Tensor, pre_spikes: Tensor, post_spikes: Tensor, state: Any
    ) -> tuple[Tensor, Any]:
        step = stdp_step if self.uses_traces else stdp_history_step
        return step(w, pre_spikes, post_spikes, state, self.params, dt_ms=self.dt_ms, csr=self.csr)
