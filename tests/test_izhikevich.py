import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from neuroplastic.neurons.izhikevich import (
    FAST_SPIKING,
    REGULAR_SPIKING,
    IzhikevichParams,
    IzhikevichPopulation,
    init_izhikevich_state,
    izhikevich_step,
    realize_izhikevich,
)


def _ivp_isi(p, current, t_end=600.0):
    """Steady inter-spike interval of the continuous model (scipy, event detection)."""
    v, u, t, times = p.c_mv, p.b * p.c_mv, 0.0, []

    def ev(t, y):
        return y[0] - p.v_peak_mv

    ev.terminal, ev.direction = True, 1
    while t < t_end:
        r = solve_ivp(
            lambda t, y: [
                0.04 * y[0] ** 2 + 5 * y[0] + 140 - y[1] + current,
                p.a * (p.b * y[0] - y[1]),
            ],
            (t, t_end),
            [v, u],
            events=ev,
            rtol=1e-10,
            atol=1e-10,
            max_step=1.0,
        )
        if r.status != 1:
            break
        t = r.t_events[0][0]
        times.append(t)
        v, u = p.c_mv, r.y_events[0][0][1] + p.d
    return np.diff(times)[-1]


def test_fine_step_matches_continuous_model():
    cells = [(REGULAR_SPIKING, 1), (REGULAR_SPIKING, 1), (FAST_SPIKING, 1)]
    current = torch.tensor([[10.0, 6.0, 10.0]], dtype=torch.float64)
    coef = realize_izhikevich(cells)
    state = init_izhikevich_state(coef)
    dt, times = 0.02, [[], [], []]
    for k in range(int(400 / dt)):
        state, s = izhikevich_step(state, coef, current, dt, 1)
        for i in torch.nonzero(s[0]).flatten().tolist():
            times[i].append(k * dt)
    for i, (p, _) in enumerate(cells):
        isi = np.diff(times[i])[-1]
        assert isi == pytest.approx(_ivp_isi(p, float(current[0, i]), 400.0), rel=0.025)
    # fast-spiking cells fire faster than regular-spiking ones for the same drive
    assert len(times[2]) > 3 * len(times[0])


def test_rheobase_saddle_node():
    # RS: no equilibrium for I > 4 (0.04v^2 + 4.8v + 140 + I = 0 has no root) -> tonic spiking;
    # for I < 3.7975 the lower equilibrium is a stable node -> quiescent after the transient.
    coef = realize_izhikevich([(REGULAR_SPIKING, 2)])
    state = init_izhikevich_state(coef)
    current = torch.tensor([[3.7, 4.1]], dtype=torch.float64)
    counts = torch.zeros(2)
    for k in range(3000):
        state, s = izhikevich_step(state, coef, current)
        if k >= 1000:
            counts += s[0]
    assert counts[0] == 0 and counts[1] >= 10


def test_daspnet_half_steps_match_scalar_loop_exactly():
    g = np.random.default_rng(3)
    cells = [(REGULAR_SPIKING, 8), (FAST_SPIKING, 4)]
    pop = IzhikevichPopulation(cells)
    state = pop.initial_state(batch=1)
    a = [0.02] * 8 + [0.1] * 4
    d = [8.0] * 8 + [2.0] * 4
    v = [-65.0] * 12
    u = [0.2 * x for x in v]
    for _ in range(500):
        current = 13 * (g.random(12) - 0.5) + 6.0
        fired_ref = []
        for i in range(12):  # the loop body of daspnet.m, one neuron at a time
            fired_ref.append(v[i] >= 30)
            if v[i] >= 30:
                v[i] = -65.0
                u[i] = u[i] + d[i]
            v[i] = v[i] + 0.5 * ((0.04 * v[i] + 5) * v[i] + 140 - u[i] + current[i])
            v[i] = v[i] + 0.5 * ((0.04 * v[i] + 5) * v[i] + 140 - u[i] + current[i])
            u[i] = u[i] + a[i] * (0.2 * v[i] - u[i])
        state, s = pop(state, torch.from_numpy(current)[None])
        assert s[0].tolist() == fired_ref
        assert state.v[0].tolist() == v and state.u[0].tolist() == u


@given(st.one_of(st.floats(max_value=0.0), st.just(float("nan"))))
def test_validation(bad):
    with pytest.raises(ValueError, match="a"):
        IzhikevichParams(a=bad)
    with pytest.raises(ValueError, match="c_mv"):
        IzhikevichParams(c_mv=40.0)
    with pytest.raises(ValueError, match="v_substeps"):
        izhikevich_step(
            init_izhikevich_state(realize_izhikevich([(FAST_SPIKING, 1)])),
            realize_izhikevich([(FAST_SPIKING, 1)]),
            0.0,
            1.0,
            0,
        )
