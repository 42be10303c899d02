"""Protocols are data: construction-time validation naming the field, and the schedule."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplastic.behavior.protocol import Phase, Protocol, Trial, trial


def test_unknown_stimulus_names_the_field():
    msg = r"phases\[1\]\.trials\[0\]\.stimuli: unknown stimulus 'Z'"
    with pytest.raises(ValueError, match=msg):
        Protocol(("A", "X"), (Phase("a", (trial("A+"),)), Phase("b", (trial("AZ+"),))))


def test_unknown_context_names_the_field():
    with pytest.raises(ValueError, match=r"phases\[0\]\.trials\[0\]\.context"):
        Protocol(("A",), (Phase("a", (trial("A+", context="B"),)),), contexts=("A",))


def test_empty_schedule_names_the_field():
    with pytest.raises(ValueError, match="trials of phase 'a' .*empty schedule"):
        Phase("a", ())
    with pytest.raises(ValueError, match="phases must be a non-empty tuple"):
        Protocol(("A",), ())
    with pytest.raises(ValueError, match="stimuli must not be empty"):
        Protocol((), (Phase("a", (trial("A+"),)),))


@settings(max_examples=40, deadline=None)
@given(d=st.floats(allow_nan=True, allow_infinity=True))
def test_duration_validator(d):
    if math.isfinite(d) and d > 0:
        assert Trial(("A",), duration_s=d).duration_s == d
    else:
        with pytest.raises(ValueError, match="duration_s"):
            Trial(("A",), duration_s=d)


@settings(max_examples=40, deadline=None)
@given(iti=st.floats(allow_nan=True, allow_infinity=True),
       gap=st.floats(allow_nan=True, allow_infinity=True),
       reps=st.integers(-3, 5))
def test_iti_gap_repeats_validators(iti, gap, reps):
    ok_iti = math.isfinite(iti) and iti >= 0
    if ok_iti:
        Trial(("A",), iti_s=iti)
    else:
        with pytest.raises(ValueError, match="iti_s"):
            Trial(("A",), iti_s=iti)
    ok_gap = math.isfinite(gap) and gap >= 0
    if ok_gap and reps >= 1:
        Phase("p", (Trial(("A",)),), repeats=reps, gap_s=gap)
    else:
        with pytest.raises(ValueError, match="gap_s|repeats"):
            Phase("p", (Trial(("A",)),), repeats=reps, gap_s=gap)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), iti=st.floats(0, 100), gap=st.floats(0, 1e4), seed=st.integers(0, 99))
def test_schedule_times_and_shuffle(n, iti, gap, seed):
    p = Protocol(("A", "B"), (Phase("x", (trial("A+", iti_s=iti), trial("B-", iti_s=iti)), n,
                                    shuffle=True),
                              Phase("y", (trial("AB+", iti_s=iti),), 2, gap_s=gap)))
    sched = p.schedule(seed)
    assert len(sched) == p.n_trials == 2 * n + 2
    assert sched == p.schedule(seed)  # same seed, same order
    for k in range(1, len(sched)):
        prev = sched[k - 1]
        assert sched[k].onset_s == pytest.approx(prev.onset_s + prev.trial.duration_s
                                                 + sched[k].gap_s)
    assert sched[2 * n].gap_s == pytest.approx(iti + gap)  # retention gap before phase y
    for b in range(n):  # each shuffled block still holds one A+ and one B-
        assert sorted(s.trial.stimuli for s in sched[2 * b:2 * b + 2]) == [("A",), ("B",)]
    d = p.design(seed)
    assert d["cues"].shape == (2 * n + 2, 2) and d["outcome"][-1] == 1.0


def test_trial_shorthand():
    t = trial("AX+")
    assert t.stimuli == ("A", "X") and t.outcome == 1.0
    assert trial("B-").outcome == 0.0 and trial("B").stimuli == ("B",)
    with pytest.raises(ValueError, match="stimuli has duplicates"):
        trial("AA+")


@settings(max_examples=30, deadline=None)
@given(u=st.floats(allow_nan=True, allow_infinity=True), tau=st.floats(-10, 10))
def test_circuit_params_validators_name_the_field(u, tau):
    from neuroplastic.behavior.circuit import CircuitParams

    if math.isfinite(u) and 0 <= u < 1:
        CircuitParams(u_fast=u)
    else:
        with pytest.raises(ValueError, match="u_fast"):
            CircuitParams(u_fast=u)
    if tau > 0:
        CircuitParams(tau_slow_s=tau)
    else:
        with pytest.raises(ValueError, match="tau_slow_s"):
            CircuitParams(tau_slow_s=tau)


def test_schedule_env_and_avoidance_schedule_refuse_bad_input():
    from neuroplastic.behavior.avoidance import AvoidanceSchedule
    from neuroplastic.behavior.schedules import ScheduleChamberEnv

    with pytest.raises(ValueError, match="schedule"):
        ScheduleChamberEnv("XX")
    with pytest.raises(ValueError, match="value of FR"):
        ScheduleChamberEnv("FR", 2.5)
    with pytest.raises(ValueError, match="exposure"):
        AvoidanceSchedule(exposure=0)


def test_fixed_ratio_and_interval_deliver_by_the_rule():
    from neuroplastic.behavior.schedules import ScheduleChamberEnv

    env = ScheduleChamberEnv("FR", 3, session_s=30.0)
    env.reset(seed=0)
    pellets = [env.step(1)[4]["pellet"] for _ in range(9)]
    assert pellets == [False, False, True] * 3
    env = ScheduleChamberEnv("FI", 4.0, session_s=30.0)
    env.reset(seed=0)
    pellets = [env.step(1)[4]["pellet"] for _ in range(8)]
    assert pellets == [False, False, False, True] * 2


def test_same_seed_same_numbers():
    from neuroplastic.behavior.circuit import CircuitParams
    from neuroplastic.behavior.habituation import run_spiking

    p = CircuitParams(w0=4.0, u_fast=0.03)
    a = run_spiking((2.0,), 4, 30.0, 2, p, seed=5)[2.0]
    b = run_spiking((2.0,), 4, 30.0, 2, p, seed=5)[2.0]
    c = run_spiking((2.0,), 4, 30.0, 2, p, seed=6)[2.0]
    assert (a == b).all() and not (a == c).all()
