import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from neuroplastic.plasticity.calcium import (
    CalciumParams,
    CalciumSpines,
    CalciumState,
    calcium_step,
    efficacy_step,
    init_calcium_state,
    mg_unblock,
)

F64 = torch.float64
P = CalciumParams()
V_REST = -65.0


def _bap_voltage(t, bap_times, amp=65.0, tau=5.0):
    return V_REST + sum(amp * math.exp(-(t - tb) / tau) for tb in bap_times if t >= tb)


def _run(pre_times, bap_times, *, n_spines=1, pre_spine=0, t_end=200.0, dt=0.1, params=P):
    """Spines on one dendrite; only ``pre_spine`` receives the presynaptic spikes."""
    s = init_calcium_state(1, n_spines)
    ca = []
    pre_steps = {round(t / dt) for t in pre_times}
    for k in range(round(t_end / dt)):
        pre = torch.zeros(1, n_spines, dtype=F64)
        if k in pre_steps:
            pre[0, pre_spine] = 1.0
        v = torch.full((1, 1), _bap_voltage(k * dt, bap_times), dtype=F64)
        s, _ = calcium_step(s, pre, v, params, dt)
        ca.append(s.ca[0].clone())
    return s, torch.stack(ca)


def _biexp_peak(params, v):
    """Peak of kappa B(V) g * exp kernel, the continuous solution for one pre spike."""
    tn, tc = params.tau_nmda_ms, params.tau_ca_ms
    t_star = math.log(tn / tc) * tn * tc / (tn - tc)
    amp = tn * tc / (tn - tc) * (math.exp(-t_star / tn) - math.exp(-t_star / tc))
    b = 1.0 / (1.0 + params.mg_mm / 3.57 * math.exp(-0.062 * v))
    return params.kappa * b * amp


# --- magnesium block -------------------------------------------------------------------------


@given(st.floats(-120, 60), st.floats(0.0, 5.0))
def test_mg_unblock_matches_jahr_stevens(v, mg):
    expected = 1.0 / (1.0 + mg / 3.57 * np.exp(-0.062 * v))
    assert float(mg_unblock(v, mg)) == pytest.approx(expected, rel=1e-12)


def test_mg_unblock_known_values():
    assert float(mg_unblock(0.0, 1.0)) == pytest.approx(3.57 / 4.57)
    assert float(mg_unblock(-65.0, 0.0)) == 1.0
    v = torch.linspace(-100, 40, 50, dtype=F64)
    b = mg_unblock(v, 1.2)
    assert torch.all(b[1:] > b[:-1])  # depolarisation unblocks monotonically


# --- coincidence detection --------------------------------------------------------------------


def test_pre_alone_at_rest_gives_subthreshold_calcium_and_no_change():
    s, ca = _run([10.0], [])
    peak = float(ca.max())
    # the Mg block leaves B(-65 mV) = 6 % of the conductance: calcium peaks at the analytic
    # bi-exponential value, a third of theta_d, and the weight does not move at all
    assert peak == pytest.approx(_biexp_peak(P, V_REST), rel=0.02)
    assert peak < 0.4 * P.theta_d
    assert float(s.rho) == 0.5
    # the block is what keeps it low: without Mg the same spike crosses theta_p
    _, ca0 = _run([10.0], [], params=dataclasses.replace(P, mg_mm=0.0))
    assert float(ca0.max()) > P.theta_p
    assert float(ca0.max()) / peak == pytest.approx(1 + math.exp(0.062 * 65) / 3.57, rel=0.02)


def test_post_alone_gives_no_calcium_and_no_change():
    s, ca = _run([], [10.0, 20.0, 30.0, 40.0])
    assert float(ca.abs().max()) == 0.0
    assert float(s.rho) == 0.5


def test_calcium_transient_matches_continuous_solution():
    dt = 0.05
    s, ca = _run([0.0], [], t_end=120.0, dt=dt, params=dataclasses.replace(P, mg_mm=0.0))
    t = np.arange(1, ca.shape[0] + 1) * dt
    tn, tc = P.tau_nmda_ms, P.tau_ca_ms
    exact = P.kappa * tn * tc / (tn - tc) * (np.exp(-t / tn) - np.exp(-t / tc))
    np.testing.assert_allclose(ca[:, 0].numpy(), exact, atol=3e-3 * exact.max())


def test_pairing_raises_calcium_and_potentiates_only_the_paired_spine():
    pre = [10.0]
    baps = [20.0, 30.0, 40.0]
    s, ca = _run(pre, baps, n_spines=2, pre_spine=0)
    assert float(ca[:, 0].max()) > P.theta_p
    assert float(s.rho[0, 0]) > 0.5  # net potentiation
    # neighbour: same dendritic voltage, no glutamate -> no calcium, weight untouched
    assert float(ca[:, 1].abs().max()) == 0.0
    assert float(s.rho[0, 1]) == 0.5


def test_weak_pairing_depresses():
    # two bAPs 20 ms apart after the pre spike: calcium enters the depression window only
    s, ca = _run([10.0], [20.0, 40.0])
    assert P.theta_d < float(ca.max()) < P.theta_p
    assert float(s.rho) < 0.5


# --- the calcium thresholds -------------------------------------------------------------------


def _sign_at(level, rho=0.5, dt=0.1):
    """Drive calcium to ``level`` exactly (state chosen so the step lands on it), no input."""
    decay = math.exp(-dt / P.tau_ca_ms)
    s = CalciumState(
        torch.zeros(1, 1, dtype=F64),
        torch.full((1, 1), level / decay, dtype=F64),
        torch.full((1, 1), rho, dtype=F64),
    )
    s2, dw = calcium_step(s, torch.zeros(1, 1), V_REST, P, dt)
    assert float(s2.ca) == pytest.approx(level, rel=1e-12)
    return float(np.sign(float(dw)))


def test_switch_happens_exactly_at_thresholds():
    eps = 1e-9
    assert _sign_at(P.theta_d - eps) == 0.0
    assert _sign_at(P.theta_d + eps) == -1.0
    assert _sign_at(P.theta_p - eps) == -1.0
    assert _sign_at(P.theta_p + eps) == 1.0


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 3.0), st.floats(0.0, 0.6))
def test_sign_of_change_is_the_threshold_function(level, rho):
    expected = 0.0 if level <= P.theta_d else (-1.0 if level <= P.theta_p else 1.0)
    if rho == 0.0 and expected == -1.0:
        expected = 0.0  # nothing left to depress
    assert _sign_at(level, rho=rho) == expected


def test_above_theta_p_rho_relaxes_to_analytic_fixed_point():
    rho_inf = P.rho_potentiated_fixed_point
    assert rho_inf == pytest.approx(321.808 / 521.808)
    ca = torch.full((2,), 2.0, dtype=F64)
    rho = torch.tensor([0.2, 0.9], dtype=F64)
    out = efficacy_step(rho, ca, P, 1e6)
    np.testing.assert_allclose(out.numpy(), rho_inf, atol=1e-9)
    assert float(efficacy_step(torch.tensor([0.9], dtype=F64), ca[:1], P, 1.0)) < 0.9


def test_efficacy_step_is_exact_against_ode_solver():
    # calcium above theta_p for 40 ms then between the thresholds for 60 ms
    def rhs(t, y):
        a = P.gamma_p if t < 40 else 0.0
        return [(a * (1 - y[0]) - P.gamma_d * y[0]) / P.tau_rho_ms]

    ref = solve_ivp(rhs, (0, 100), [0.3], rtol=1e-11, atol=1e-13, max_step=0.5).y[0, -1]
    rho = torch.tensor([0.3], dtype=F64)
    rho = efficacy_step(rho, torch.tensor([1.5], dtype=F64), P, 40.0)
    rho = efficacy_step(rho, torch.tensor([1.1], dtype=F64), P, 60.0)
    assert float(rho) == pytest.approx(ref, rel=1e-8)


def test_bistability_term_drives_towards_the_stable_states():
    p = dataclasses.replace(P, beta=1.0)
    ca = torch.zeros(2, dtype=F64)
    rho = torch.tensor([0.4, 0.6], dtype=F64)
    for _ in range(100):
        rho = efficacy_step(rho, ca, p, 1000.0)
    assert float(rho[0]) < 0.4 and float(rho[1]) > 0.6
    assert torch.all((rho >= 0) & (rho <= 1))


def test_batch_and_per_spine_voltage_shapes():
    s = init_calcium_state(3, 4, rho=0.2)
    pre = torch.ones(3, 4, dtype=torch.bool)
    v = torch.linspace(-70, 0, 12, dtype=F64).reshape(3, 4)
    s2, dw = calcium_step(s, pre, v, P, 0.5)
    assert dw.shape == (3, 4) and s2.ca.shape == (3, 4)
    # more depolarised spines take up more calcium
    flat = s2.ca.flatten()
    assert torch.all(flat[1:] > flat[:-1])


def test_module_wraps_the_step_function():
    mod = CalciumSpines(P, dt_ms=0.5)
    s = mod.init_state(2, 3, rho=0.3)
    pre = torch.tensor([[1.0, 0, 1], [0, 1, 0]], dtype=F64)
    v = torch.tensor([[-20.0], [-60.0]], dtype=F64)
    s_mod, dw_mod = mod(s, pre, v)
    s_fn, dw_fn = calcium_step(s, pre, v, P, 0.5)
    assert all(torch.equal(a, b) for a, b in zip(s_mod, s_fn, strict=True))
    assert torch.equal(dw_mod, dw_fn)
    with pytest.raises(ValueError, match="params"):
        CalciumSpines(object(), dt_ms=0.1)
    with pytest.raises(ValueError, match="dt_ms"):
        CalciumSpines(P, dt_ms=-1.0)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    ["tau_nmda_ms", "tau_ca_ms", "theta_d", "theta_p", "tau_rho_ms"],
)
@given(bad=st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf"))))
def test_positive_fields_reject_bad_values(field, bad):
    with pytest.raises(ValueError, match=field):
        CalciumParams(**{field: bad})


@pytest.mark.parametrize("field", ["kappa", "mg_mm", "gamma_d", "gamma_p", "beta"])
@given(bad=st.floats(max_value=-1e-9, allow_infinity=False))
def test_nonnegative_fields_reject_negative(field, bad):
    with pytest.raises(ValueError, match=field):
        CalciumParams(**{field: bad})


@given(st.floats(1.0, 5.0))
def test_thresholds_must_be_ordered(theta_d):
    with pytest.raises(ValueError, match="theta_d"):
        CalciumParams(theta_d=theta_d, theta_p=theta_d)


@given(st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0 + 1e-9)))
def test_rho_star_and_initial_rho_in_unit_interval(bad):
    with pytest.raises(ValueError, match="rho_star"):
        CalciumParams(rho_star=bad)
    with pytest.raises(ValueError, match="rho"):
        init_calcium_state(1, 1, rho=bad)


def test_dt_and_mg_validated():
    with pytest.raises(ValueError, match="dt_ms"):
        calcium_step(init_calcium_state(1, 1), torch.zeros(1, 1), 0.0, P, 0.0)
    with pytest.raises(ValueError, match="mg_mm"):
        mg_unblock(0.0, -1.0)


# --- the spine-specificity experiment ---------------------------------------------------------


def test_spine_specificity_experiment():
    import matplotlib
    import matplotlib.pyplot

    matplotlib.use("Agg")
    from neuroplastic.experiments.spine_specificity import SpineSpecificityConfig
    from neuroplastic.experiments.spine_specificity import run as run_spines

    r = run_spines(SpineSpecificityConfig(n_pairings=3, pairing_interval_ms=150.0),
                   progress=False)
    m = r.metrics
    assert m["paired_dw"] > 0 and m["paired_peak_ca"] > P.theta_p
    assert m["unpaired_dw"] == 0.0 and m["unpaired_peak_ca"] == 0.0
    assert m["pre_only_dw"] == 0.0 and 0 < m["pre_only_peak_ca"] < P.theta_d
    assert m["specific"] is True
    assert set(r.figures) == {"calcium", "weights"}
    matplotlib.pyplot.close("all")
