r"""Eyeblink conditioning: the cerebellum learns a conditioned response timed to the CS-US
interval (McCormick & Thompson 1984; Mauk & Buonomano 2004; Medina et al. 2000).

For each interval in ``isis_ms`` a fresh cerebellum (:class:`neuroplastic.agents.Cerebellum`)
is trained on ``trials`` paired trials of :class:`neuroplastic.agents.envs.EyeblinkEnv` (tone
CS at t = 0, air puff US at t = ISI):

* mossy fibres carry the CS as a spread of memory-trace microstimuli
  (:class:`neuroplastic.agents.MicrostimulusCode`, Ludvig, Sutton & Kehoe 2008);
* the granule layer (random sparse fan-in, threshold, Golgi normalisation) turns them into a
  temporal basis: each granule cell is active in its own window after CS onset;
* the climbing fibre signals the puff that reaches the cornea, :math:`e = \mathrm{US}\,(1 -
  \mathrm{closure})` (a closed eye protects: the CR limits its own teaching signal); Purkinje
  PF synapses undergo LTD where PF activity coincides with the CF (at the US) and a small
  CF-independent LTP (``ltp``) wherever PFs are active without it, so that only the synapses
  active at the US stay depressed (bounded by ``w_range``);
* the deep-nuclear output ``y`` is the eyelid closure (the action, clipped to [0, 1]).

The CR time course is read on CS-alone probes (no learning, 2 x ISI long) after the first and
the last trial. Metrics per interval: ``cr_peak_ms_<ISI>`` (time of the last probe's maximum),
``cr_peak_error_frac_<ISI>`` (|peak - ISI| / ISI), ``cr_amplitude_<ISI>`` (last probe's CR at
the ISI); ``timed_ok`` (every peak within ``peak_tolerance``). Curves: the closure at the US
time in every paired trial (acquisition), the CR time course on the first and the last probe.

Resumable after every interval.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..lab.checkpointer import Checkpointer
from .base import Result, register
from .configs.eyeblink import EyeblinkConfig

__all__ = ["EyeblinkConfig", "condition", "run"]


def _parts(c: EyeblinkConfig, isi_ms: int):
    from ..agents import Cerebellum, CerebellumParams, MicrostimulusCode
    from ..agents.envs import EyeblinkEnv

    dt_s = c.dt_ms / 1000.0
    env = EyeblinkEnv(isi_s=isi_ms / 1000.0, dt_s=dt_s, post_s=isi_ms / 1000.0)
    code = MicrostimulusCode(1, n_micro=c.n_micro, tau_s=c.trace_tau_ms / 1000.0,
                             sigma=c.micro_sigma, dt_s=dt_s, bias=False)
    cb = Cerebellum(CerebellumParams(n_mossy=code.size, n_out=1, n_granule=c.n_granule,
                                     fan_in=4, threshold=c.threshold, eta_fast=c.eta,
                                     ltp=c.ltp, w_min=-c.w_range, w_max=0.0, seed=c.seed))
    return env, code, cb


def _granule_sequence(cb, code, cs: np.ndarray) -> list[np.ndarray]:
    """Granule activity at every step of a trial whose CS channel is ``cs`` (the context
    repeats exactly from trial to trial, so it is computed once)."""
    code.reset()
    return [cb.granule(code(np.array([c]))) for c in cs]


def probe(cb, xs: list[np.ndarray]) -> np.ndarray:
    """CR time course on a CS-alone trial with granule activity ``xs`` (no learning)."""
    saved = cb.x
    out = np.array([cb.predict_granule(x)[0] for x in xs])
    cb.x = saved
    return out


def condition(c: EyeblinkConfig, isi_ms: int, state: dict | None = None) -> dict:
    """Train one cerebellum on ``isi_ms``; CR amplitude per trial and the probe time courses."""
    env, code, cb = _parts(c, isi_ms)
    if state is not None:
        cb.load_state_dict(state)
    k_us = isi_ms // c.dt_ms
    paired = _granule_sequence(cb, code, (np.arange(env.trial_steps) <= k_us).astype(float))
    probe_xs = _granule_sequence(cb, code, np.ones(2 * k_us))
    amplitude, first = [], None
    for t in range(c.trials):
        obs, _ = env.reset(seed=t)
        k = 0
        while True:
            if obs[0] != (k <= k_us):
                raise RuntimeError("the CS of the environment differs from the cached one")
            y = cb.predict_granule(paired[k])[0]
            closure = min(1.0, max(0.0, y))
            if k == k_us:
                amplitude.append(closure)
            obs, reward, term, _, _ = env.step(np.array([closure]))
            cb.learn(np.array([-reward]))  # CF: the puff that reached the cornea
            k += 1
            if term:
                break
        if first is None:
            first = probe(cb, probe_xs)
    return {"amplitude": amplitude, "first": first, "last": probe(cb, probe_xs),
            "state": cb.state_dict()}


def _figure(c: EyeblinkConfig, curves: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for isi in c.isis_ms:
        axes[0].plot(curves[f"cr_amplitude_{isi}"], label=f"ISI {isi} ms")
        for which, ls in (("first", ":"), ("last", "-")):
            cr = curves[f"cr_{which}_{isi}"]
            axes[1].plot(np.arange(len(cr)) * c.dt_ms, cr, ls, label=f"ISI {isi}, {which}")
        axes[1].axvline(isi, color="k", lw=0.6)
    axes[0].set(xlabel="trial", ylabel="closure at the US time", title="acquisition")
    axes[1].set(xlabel="time after CS onset (ms)", ylabel="eyelid closure (probe)",
                title="the CR is timed to the interval")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


@register("eyeblink", EyeblinkConfig,
          "Eyeblink conditioning: cerebellar CR timed to the CS-US interval")
def run(config: EyeblinkConfig, *, progress: bool = True,
        checkpoint: Checkpointer | None = None) -> Result:
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    c = config
    curves: dict[str, list[float]] = {}
    arrays: dict[str, torch.Tensor] = {}
    done = 0
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        done, arrays, meta = state
        arrays = dict(arrays)
        curves = {k: list(v) for k, v in meta["curves"].items()}
    bar = tqdm(total=len(c.isis_ms), initial=done, desc="eyeblink", disable=not progress)
    while done < len(c.isis_ms):
        isi = c.isis_ms[done]
        out = condition(c, isi)
        curves[f"cr_amplitude_{isi}"] = out["amplitude"]
        curves[f"cr_first_{isi}"] = [float(v) for v in out["first"]]
        curves[f"cr_last_{isi}"] = [float(v) for v in out["last"]]
        arrays[f"w_{isi}"] = torch.from_numpy(out["state"]["w_fast"])
        done += 1
        bar.update(1)
        if checkpoint is not None and checkpoint.due():
            checkpoint.save(done, arrays, {"curves": curves})
    bar.close()
    metrics: dict = {}
    ok = True
    for isi in c.isis_ms:
        cr = np.asarray(curves[f"cr_last_{isi}"])
        peak = float(np.argmax(cr) * c.dt_ms)
        err = abs(peak - isi) / isi
        ok = ok and err <= c.peak_tolerance and cr.max() > 0
        metrics[f"cr_peak_ms_{isi}"] = peak
        metrics[f"cr_peak_error_frac_{isi}"] = err
        metrics[f"cr_amplitude_{isi}"] = float(cr[isi // c.dt_ms])
    metrics["timed_ok"] = bool(ok)
    return Result(metrics=metrics, figures={"cr": _figure(c, curves)}, arrays=arrays,
                  curves=curves, timings={"wall_s": time.perf_counter() - t_start})
