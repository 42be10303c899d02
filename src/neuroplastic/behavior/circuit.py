r"""A spiking sensory→response circuit that habituates, sensitizes and learns associations.

Each stimulus of a :class:`~neuroplastic.behavior.protocol.Protocol` drives its own pool of
``n_sensory`` Poisson sensory neurons (``rate_hz`` while it is on); they project onto
``n_out`` LIF response neurons (motor neurons of a withdrawal reflex, or the neurons whose
firing is the conditioned response). The response of a trial is the output spike count per
neuron in the ``window_ms`` simulated while the stimuli are on. The membrane, synaptic currents
and thresholds are :func:`neuroplastic.neurons.lif.lif_step` and
:func:`~neuroplastic.neurons.lif.receive_synaptic` (one clock step each); between trials
nothing is simulated and every slow variable relaxes exactly over the gap. One run holds a batch of
independent animals (and of groups), each with
its own weights and its own trial sequence.

Three mechanisms act on the sensory→response synapses; each is off unless its parameters say so.

* **Homosynaptic depression on two time scales** (habituation; Castellucci & Kandel 1974's
  presynaptic depression, with the time scales of Staddon & Higa's cascade): each presynaptic
  spike depletes a fast and a slow resource, :math:`d_k \leftarrow d_k + u_k(1-d_k)`, which
  recover as :math:`e^{-t/\tau_k}`; the efficacy is :math:`(1-d_f)(1-d_s)` (held over a
  trial's short window, the depletion applied after it). Depression is per
  synapse, so it is stimulus specific.
* **Presynaptic facilitation by a serotonin-like modulator** (sensitization, dishabituation;
  Kandel 2001): a noxious event releases a broadcast modulator :math:`M` (the package's
  :func:`~neuroplastic.neuromodulation.dopamine_step`, a decaying global signal), the efficacy
  of *every* sensory synapse is multiplied by :math:`1 + g M + L`, and whenever :math:`M`
  exceeds ``ltf_threshold`` (repeated shocks) a long-term component :math:`L` builds up.
* **Three-factor associative learning** (the pieces of
  :func:`~neuroplastic.plasticity.three_factor.three_factor_step`, ``coincidence="hebb"``):
  released transmitter (spike × efficacy) tags an eligibility trace; at the outcome the prediction
  error :math:`\delta = \lambda - V` (the response read out
  as :math:`V` = spikes / ``ref_count``;
  :func:`~neuroplastic.neuromodulation.reward_prediction_error`) is broadcast. A positive
  :math:`\delta` potentiates the excitatory synapses; a negative one potentiates inhibitory
  synapses of the same sensory inputs *gated by the current context* (extinction is new,
  context-dependent inhibitory learning, Bouton 2004), whose memory fades with
  ``tau_ext_s`` — hence renewal in another context and spontaneous recovery after a delay.
  Because depression lowers the transmitter released by a pre-exposed stimulus, it also lowers
  that stimulus's eligibility: latent inhibition.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from .._validation import check_finite, check_int, check_nonnegative, check_positive

__all__ = ["Circuit", "CircuitParams", "one_thread", "run_schedule"]


@contextmanager
def one_thread():
    """Run torch on one thread inside the block (tiny tensors: threads cost more than they
    give, and several times more on a loaded machine); the setting is restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@dataclass(frozen=True)
class CircuitParams:
    """Parameters of :class:`Circuit` (times in ms unless the name says s)."""

    n_sensory: int = 10  # sensory neurons per stimulus
    n_out: int = 8  # response (motor / CR) neurons
    rate_hz: float = 200.0  # sensory Poisson rate while a stimulus is on
    window_ms: float = 40.0  # simulated window per trial
    dt_ms: float = 1.0  # clock step
    w0: float = 0.0  # initial excitatory weight (nA per spike)
    w_max: float = 30.0  # bound of every plastic weight (nA)
    noise_sigma_mv: float = 1.0  # membrane noise of the response neurons
    ref_count: float = 4.0  # output spikes per neuron that read out as V = 1
    u_fast: float = 0.0  # depression per presynaptic spike, fast resource
    tau_fast_s: float = 5.0  # recovery of the fast resource (s)
    u_slow: float = 0.0  # depression per presynaptic spike, slow resource
    tau_slow_s: float = 600.0  # recovery of the slow resource (s)
    facil_gain: float = 0.0  # efficacy x (1 + facil_gain * M + L)
    mod_tau_s: float = 120.0  # decay of the serotonin-like modulator M (s)
    ltf_threshold: float = 1.5  # M above this builds long-term facilitation L
    ltf_rate: float = 0.0  # L gained per unit of M above threshold, per release
    ltf_tau_s: float = 86_400.0  # decay of L (s)
    eta: float = 0.0  # learning rate: weight per (delta x eligibility) at the outcome
    tau_e_ms: float = 100.0  # eligibility time constant
    tau_ext_s: float = 86_400.0  # decay of the context-gated extinction memory (s)

    def __post_init__(self) -> None:
        check_int("n_sensory", self.n_sensory, 1, 10_000)
        check_int("n_out", self.n_out, 1, 10_000)
        check_nonnegative("rate_hz", self.rate_hz)
        check_positive("window_ms", self.window_ms)
        check_positive("dt_ms", self.dt_ms)
        if self.rate_hz * self.dt_ms / 1000.0 > 1.0:
            raise ValueError(f"rate_hz * dt_ms must be <= 1000 (one spike per step), got "
                             f"{self.rate_hz} * {self.dt_ms}")
        check_nonnegative("w0", self.w0)
        check_positive("w_max", self.w_max)
        check_nonnegative("noise_sigma_mv", self.noise_sigma_mv)
        check_positive("ref_count", self.ref_count)
        for name in ("u_fast", "u_slow"):
            v = check_finite(name, getattr(self, name))
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {v!r}")
        for name in ("tau_fast_s", "tau_slow_s", "mod_tau_s", "ltf_tau_s", "tau_e_ms",
                     "tau_ext_s"):
            check_positive(name, getattr(self, name))
        check_nonnegative("facil_gain", self.facil_gain)
        check_nonnegative("ltf_threshold", self.ltf_threshold)
        check_nonnegative("ltf_rate", self.ltf_rate)
        check_nonnegative("eta", self.eta)

    @property
    def steps(self) -> int:
        return max(1, round(self.window_ms / self.dt_ms))


class Circuit:
    """A batch of ``batch`` animals, each a sensory→response circuit (see module docstring).

    ``n_stimuli`` sensory pools, ``n_contexts`` contexts (for the context-gated extinction
    memory). Call :meth:`trial` once per trial, in order.
    """

    def __init__(self, params: CircuitParams, n_stimuli: int, n_contexts: int = 1,
                 batch: int = 1, seed: int = 0) -> None:
        from ..neuromodulation import DopamineParams
        from ..neurons.lif import Analog, LIFParams, init_lif_state, realize_lif
        from ..plasticity.three_factor import ThreeFactorParams

        self.p = params
        self.n_stimuli = check_int("n_stimuli", n_stimuli, 1, 1000)
        self.n_contexts = check_int("n_contexts", n_contexts, 1, 1000)
        self.batch = check_int("batch", batch, 1, 1_000_000)
        self.gen = torch.Generator().manual_seed(check_int("seed", seed, 0))
        p = params
        B, n_pre, n_out = batch, n_stimuli * p.n_sensory, p.n_out
        self.n_pre = n_pre
        f64 = torch.float64
        self.coef = realize_lif(LIFParams(tau_syn_ms=(5.0,)),
                                Analog(noise_sigma_mv=p.noise_sigma_mv), n_out, p.dt_ms,
                                generator=self.gen)
        self._init_lif = lambda: init_lif_state(self.coef, B)
        self.w = torch.full((B, n_out, n_pre), p.w0, dtype=f64)  # excitatory
        self.w_ext = torch.zeros(B, self.n_contexts, n_out, n_pre, dtype=f64)  # inhibitory
        self.d_fast = torch.zeros(B, n_pre, dtype=f64)
        self.d_slow = torch.zeros(B, n_pre, dtype=f64)
        self.mod = torch.zeros(B, dtype=f64)  # serotonin-like modulator
        self.ltf = torch.zeros(B, dtype=f64)  # long-term facilitation
        self.mod_params = DopamineParams(tau_ms=p.mod_tau_s * 1000.0, release=1.0)
        # the outcome's update is applied once, at the end of the window: eta * dt * M * e
        self.rule = ThreeFactorParams(eta=p.eta / p.dt_ms if p.eta > 0 else 0.0,
                                      tau_e_ms=p.tau_e_ms, coincidence="hebb", w_min=0.0,
                                      w_max=p.w_max)
        self.pool = torch.arange(n_pre) // p.n_sensory  # stimulus of each sensory neuron

    # -- slow variables between trials -------------------------------------------------------
    def efficacy(self) -> Tensor:
        """Per-synapse efficacy ``(B, n_pre)``: depression x facilitation."""
        fac = 1.0 + self.p.facil_gain * self.mod + self.ltf
        return (1.0 - self.d_fast) * (1.0 - self.d_slow) * fac[:, None]

    def relax(self, gap_s: Tensor) -> None:
        """Let ``gap_s`` ``(B,)`` seconds pass with no stimulus (exact exponential recovery)."""
        from ..neuromodulation import dopamine_decay

        p = self.p
        g = torch.as_tensor(gap_s, dtype=torch.float64).expand(self.batch)
        g = torch.where(torch.isfinite(g), g, torch.zeros_like(g))
        self.d_fast = self.d_fast * torch.exp(-g / p.tau_fast_s)[:, None]
        self.d_slow = self.d_slow * torch.exp(-g / p.tau_slow_s)[:, None]
        self.ltf = self.ltf * torch.exp(-g / p.ltf_tau_s)
        self.w_ext = self.w_ext * torch.exp(-g / p.tau_ext_s)[:, None, None, None]
        for gv in torch.unique(g).tolist():  # the modulator's own exact decay, per gap length
            m = g == gv
            self.mod[m] = dopamine_decay(self.mod[m], self.mod_params, gv * 1000.0)

    def release(self, amount: Tensor) -> None:
        """A noxious event: release ``amount`` ``(B,)`` of modulator; LTF above threshold."""
        from ..neuromodulation import dopamine_step

        a = torch.as_tensor(amount, dtype=torch.float64).expand(self.batch)
        self.mod = dopamine_step(self.mod, a, self.mod_params, 0.0)
        over = (self.mod - self.p.ltf_threshold).clamp(min=0.0) * (a > 0)
        self.ltf = self.ltf + self.p.ltf_rate * over

    # -- one trial ---------------------------------------------------------------------------
    def trial(self, present: Tensor, context: Tensor | None = None,
              outcome: Tensor | None = None, gap_s: Tensor | float = 0.0,
              learn: Tensor | bool = True, modulator: Tensor | float = 0.0,
              window_ms: float | None = None) -> tuple[Tensor, Tensor]:
        """Run one trial after a gap; returns ``(response, delta)``, both ``(B,)``.

        ``present`` ``(B, n_stimuli)`` 0/1 (or intensities), ``context`` ``(B,)`` indices,
        ``outcome`` ``(B,)`` lambda, ``learn`` which animals learn from it, ``modulator``
        ``(B,)`` release after the window (a noxious event). ``learn`` may be a callable that
        receives the read-out ``V = response / ref_count`` ``(B,)`` and returns the mask (the
        animal decides on what it feels, before the outcome). ``window_ms`` shortens the trial
        (an escape): the outcome is then never reached and nothing is learned.
        """
        from ..neuromodulation import reward_prediction_error
        from ..neurons.lif import lif_step
        from ..plasticity.three_factor import (
            coincidence_step,
            eligibility_step,
            init_eligibility_state,
            modulated_update,
        )

        p, B = self.p, self.batch
        f64 = torch.float64
        self.relax(gap_s)
        present = torch.as_tensor(present, dtype=f64).reshape(B, self.n_stimuli)
        ctx = (torch.zeros(B, dtype=torch.long) if context is None
               else torch.as_tensor(context, dtype=torch.long).reshape(B))
        lam = (torch.zeros(B, dtype=f64) if outcome is None
               else torch.as_tensor(outcome, dtype=f64).expand(B))
        steps = p.steps if window_ms is None else max(0, round(window_ms / p.dt_ms))
        full = steps >= p.steps
        rate = (p.rate_hz * p.dt_ms / 1000.0) * present[:, self.pool]  # (B, n_pre)
        inh = self.w_ext[torch.arange(B), ctx]  # (B, n_out, n_pre) context-gated extinction
        lif = self._init_lif()
        e_state = init_eligibility_state(B, self.n_pre, 1)
        ones = torch.ones(B, 1, dtype=f64)
        count = torch.zeros(B, dtype=f64)
        # the efficacy is held over the short window; depression is applied after it
        eff = self.efficacy()
        spikes = (torch.rand(steps, B, self.n_pre, generator=self.gen, dtype=f64)
                  < rate).to(f64)
        released = spikes * eff
        arrivals = (torch.einsum("tbp,bop->tbo", released, self.w)
                    - torch.einsum("tbp,bop->tbo", spikes, inh))
        noise = torch.randn(steps, B, p.n_out, generator=self.gen, dtype=f64)
        for t in range(steps):
            lif, spk = lif_step(lif, self.coef, noise=noise[t])
            count += spk.sum(1)
            # receive_synaptic's add without its fixed-point rounding (analog neurons)
            lif = lif._replace(i_syn=lif.i_syn + arrivals[t, :, :, None])
            _, c = coincidence_step(e_state, released[t], ones, self.rule, p.dt_ms)
            e_state = e_state._replace(e=eligibility_step(e_state.e, c, self.rule, p.dt_ms))
        n_spk = spikes.sum(0)  # each spike: d <- d + u (1 - d)
        self.d_fast = 1.0 - (1.0 - self.d_fast) * (1.0 - p.u_fast) ** n_spk
        self.d_slow = 1.0 - (1.0 - self.d_slow) * (1.0 - p.u_slow) ** n_spk
        response = count / p.n_out
        value = response / p.ref_count
        if callable(learn):  # decided on seeing the response, before the outcome
            learn = learn(value)
        learn_t = torch.as_tensor(learn, dtype=torch.bool).expand(B)
        delta = torch.where(learn_t & torch.tensor(full), reward_prediction_error(lam, value),
                            torch.zeros_like(value))
        if p.eta > 0 and bool((delta != 0).any()):
            e = e_state.e
            self.w = modulated_update(self.w, e, delta.clamp(min=0.0)[:, None, None], self.rule,
                                      p.dt_ms)
            new_inh = modulated_update(inh, e, (-delta).clamp(min=0.0)[:, None, None],
                                       self.rule, p.dt_ms)
            self.w_ext[torch.arange(B), ctx] = new_inh
        mod = torch.as_tensor(modulator, dtype=f64).expand(B)
        if bool((mod > 0).any()):
            self.release(mod)
        return response, delta


def run_schedule(circuit: Circuit, designs: list[dict], learn_override=None) -> dict:
    """Run per-animal trial designs (:meth:`Protocol.design` dicts, one per batch entry, padded
    with blank trials to the longest) through ``circuit``; returns ``response`` and ``delta``
    ``(B, n_trials)`` tensors."""
    B = circuit.batch
    if len(designs) != B:
        raise ValueError(f"designs must hold one design per animal ({B}), got {len(designs)}")
    n = max(len(d["outcome"]) for d in designs)
    f64 = torch.float64

    def col(key, k, default):
        return torch.tensor([float(d[key][k]) if k < len(d[key]) else default for d in designs],
                            dtype=f64)

    resp = torch.zeros(B, n, dtype=f64)
    delta = torch.zeros(B, n, dtype=f64)
    with one_thread():
        _run(circuit, designs, n, col, resp, delta)
    return {"response": resp, "delta": delta}


def _run(circuit, designs, n, col, resp, delta) -> None:
    f64 = torch.float64
    for k in range(n):
        present = torch.stack([torch.as_tensor(d["cues"][k]) if k < len(d["outcome"])
                               else torch.zeros(circuit.n_stimuli, dtype=f64)
                               for d in designs]).to(f64)
        learn = ~col("test", k, 1.0).bool()
        r, dl = circuit.trial(present, col("context", k, 0.0).long(), col("outcome", k, 0.0),
                              col("gap_s", k, 0.0), learn, col("modulator", k, 0.0))
        resp[:, k], delta[:, k] = r, dl
