"""Activity counts of a simulator run, read from the simulator's own counters.

The compiled loop of :class:`~neuroplastic.network.Network` counts every spike of every neuron
and every synaptic event delivered by every projection; this module turns those counters into
the :class:`~neuroplastic.energy.counters.ActivityCounts` that
:func:`~neuroplastic.energy.report.energy_report` prices.
"""

from __future__ import annotations

import math
from typing import Any

from .counters import ActivityCounts, LayerCounts

__all__ = ["energy_from_network"]


def energy_from_network(net: Any, duration_s: float | None = None) -> ActivityCounts:
    """Counts of everything ``net`` did since it was built, one layer per projection.

    Parameters
    ----------
    net : Network
        A network that has run (:class:`~neuroplastic.network.Network`).
    duration_s : float, optional
        The duration [s] the report will use; when given it must equal the simulated time
        ``net.step * net.dt_ms / 1000`` (to within half a step), which catches a report priced
        over the wrong interval.

    Returns
    -------
    ActivityCounts
        Per projection (named as in ``net.projections``): ``spikes_in`` = spikes of the
        presynaptic population (summed over trials), ``synops`` = the simulator's counter of
        delivered synaptic events, ``n_synapses`` = stored synapses (dense projections store
        every pair), ``dense_macs`` = ``n_pre × n_post`` per step and trial, ``steps`` =
        ``net.step``, ``batch`` = ``net.batch``. Neuron updates (``n_post`` per step and trial)
        are charged to the first projection into each postsynaptic population only, so a
        population with several inputs is not counted twice.

    Raises
    ------
    ValueError
        No projections, no step simulated yet, or ``duration_s`` disagreeing with the run.
    """
    projections = net.projections
    if not projections:
        raise ValueError("the network has no projections: nothing to count")
    synops = net.synops  # builds the simulation if needed
    steps, batch = int(net.step), int(net.batch)
    if steps < 1:
        raise ValueError("the network has not run yet (net.step = 0): nothing to count")
    if duration_s is not None:
        sim_s = steps * net.dt_ms * 1e-3
        if not math.isfinite(duration_s) or abs(duration_s - sim_s) > 0.5 * net.dt_ms * 1e-3:
            raise ValueError(
                f"duration_s must equal the simulated time {sim_s:g} s "
                f"({steps} steps of {net.dt_ms:g} ms), got {duration_s!r}"
            )
    layers = []
    updated: set[str] = set()
    spikes_of: dict[str, int] = {}
    for name, proj in projections.items():
        if proj.pre not in spikes_of:
            spikes_of[proj.pre] = int(net.spike_counts(proj.pre).sum())
        charge_post = proj.post not in updated
        updated.add(proj.post)
        layers.append(
            LayerCounts(
                name=name,
                n_pre=proj.n_pre,
                n_post=proj.n_post,
                steps=steps,
                batch=batch,
                spikes_in=spikes_of[proj.pre],
                synops=int(synops[name]),
                n_synapses=int(proj.nnz),
                dense_macs=proj.n_pre * proj.n_post * steps * batch,
                neuron_updates=proj.n_post * steps * batch if charge_post else 0,
            )
        )
    return ActivityCounts(tuple(layers))
