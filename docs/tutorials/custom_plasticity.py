"""Tutorial: write your own plasticity rule, and test it (compiled == reference).

Run it with ``.venv/bin/python docs/tutorials/custom_plasticity.py`` (a few seconds). Every
claim the tutorial makes is an ``assert`` below; ``tests/test_tutorials.py`` runs this file.

1. In the loop: an ``STDPParams`` of your choice runs inside the compiled simulator; it must give
   the same weights, bit for bit, as the torch reference loop, and as the library's rule applied
   to the recorded spikes.
2. Any window: a learning window written as a Python function (``FunctionWindow``), checked
   against the direct pair sum and against the compiled loop.
3. Plugged in: that window, which the compiled loop cannot run, driven between chunks of
   ``net.run`` through the weights the simulator propagates from; again compiled == reference.
"""

from __future__ import annotations

import torch

from neuroplastic.network import Network
from neuroplastic.neurons import Analog, LIFParams
from neuroplastic.plasticity import (
    ExponentialWindow,
    FunctionWindow,
    STDPParams,
    csr_layout,
    init_history_state,
    init_stdp_state,
    stdp_history_step,
    stdp_pair_sum,
    stdp_sequence,
)
from neuroplastic.synapses import FixedProbability

DT_MS = 0.5
N_IN, N_OUT = 40, 8


# [build]
def build(backend: str, plasticity: STDPParams | None = None) -> Network:
    """40 Poisson inputs -> 8 noisy LIF neurons; the projection "ff" may learn in the loop."""
    net = Network(dt_ms=DT_MS, seed=7, backend=backend)
    net.add_poisson("inp", torch.linspace(10.0, 60.0, N_IN))
    net.add_lif("out", N_OUT, LIFParams(r_mohm=10.0), Analog(noise_sigma_mv=1.0),
                v_init=(-65.0, -55.0))
    net.connect("inp", "out", FixedProbability(0.5), weight=0.8, name="ff",
                plasticity=plasticity)
    net.set_current("out", 1.2)  # nA: the inputs push the neurons over threshold now and then
    return net


def raster(monitor, n_steps: int, first_step: int = 0, batch: int = 1) -> torch.Tensor:
    """Spikes of a monitor in steps ``[first_step, first_step + n_steps)``, ``(T, batch, n)``."""
    out = torch.zeros(n_steps, batch, monitor.n, dtype=torch.bool)
    steps = monitor.steps - first_step
    keep = (steps >= 0) & (steps < n_steps)
    out[steps[keep], monitor.batch[keep], monitor.neurons[keep]] = True
    return out
# [build-end]


# [in-loop]
# Step 1: a rule the compiled loop runs. All of STDPParams is yours to choose (but norm_target)
# as long as the window has a trace form (one exponential on each side): amplitudes and time
# constants, W(0), all-to-all or nearest-spike pairing, hard or soft (multiplicative) bounds,
# the learning rate.
my_stdp = STDPParams(
    ExponentialWindow(a_plus=0.02, a_minus=0.012, tau_plus_ms=10.0, tau_minus_ms=30.0,
                      at_zero="mean"),
    pairing="nearest",
    update="multiplicative",
    learning_rate=2.0,
    w_min=0.0,
    w_max=2.0,
)
T = 400  # steps (200 ms)
nets = {backend: build(backend, my_stdp) for backend in ("numba", "torch")}
w0 = nets["numba"].weights("ff").clone()
monitors = {b: (net.monitor_spikes("inp"), net.monitor_spikes("out")) for b, net in nets.items()}
for net in nets.values():
    net.run(T * DT_MS)
compiled, reference = nets["numba"], nets["torch"]

# The equality test to write for any change to a rule or to the loop: the compiled loop and
# the torch reference loop (kernels/network_torch.py calls stdp_step itself) agree bit for bit.
assert torch.equal(compiled.weights("ff"), reference.weights("ff"))
assert torch.equal(compiled.stdp_traces("ff").pre_trace, reference.stdp_traces("ff").pre_trace)
assert torch.equal(monitors["numba"][1].steps, monitors["torch"][1].steps)
assert not torch.equal(compiled.weights("ff"), w0), "the rule did learn"

# And what the loop learned is exactly the library's rule applied to the recorded spikes.
pre_raster, post_raster = (raster(m, T) for m in monitors["numba"])
proj = compiled.projections["ff"]
csr = csr_layout(proj.indptr, proj.indices, proj.n_post)
w_offline, _ = stdp_sequence(w0.clone(), pre_raster, post_raster,
                             init_stdp_state(1, N_IN, N_OUT), my_stdp, dt_ms=DT_MS, csr=csr)
assert torch.equal(w_offline, compiled.weights("ff"))
# [in-loop-end]


# [window]
# Step 2: any learning window, written as a function of the lag dt = t_post - t_pre (ms).
# Here potentiation peaks 5 ms after the pre spike (an alpha function) instead of at 0 --
# no pair of traces can express that.
def my_window(dt: torch.Tensor) -> torch.Tensor:
    pot = 0.02 * (dt / 5.0) * torch.exp(1.0 - dt / 5.0)
    dep = -0.012 * torch.exp(dt / 20.0)
    return torch.where(dt > 0, pot, torch.where(dt < 0, dep, torch.zeros_like(dt)))


window = FunctionWindow(my_window, support_ms=150.0)  # W = 0 beyond |dt| > 150 ms
peak = window(torch.tensor([4.0, 5.0, 6.0], dtype=torch.float64))
assert peak.argmax() == 1 and abs(float(peak[1]) - 0.02) < 1e-15  # W(5 ms) = 0.02

# Check 1: the event-driven rule for any window (stdp_history_step) against the definition,
# the sum of W over all spike pairs (stdp_pair_sum), on one synapse with random spike trains.
gen = torch.Generator().manual_seed(0)
pre_1 = torch.rand(T, 1, 1, generator=gen) < 0.03
post_1 = torch.rand(T, 1, 1, generator=gen) < 0.03
unbounded = STDPParams(window, w_min=float("-inf"), w_max=float("inf"))
w, state = torch.zeros(1, 1, dtype=torch.float64), init_history_state(1, 1, 1, capacity=32)
for k in range(T):
    w, state = stdp_history_step(w, pre_1[k], post_1[k], state, unbounded, dt_ms=DT_MS)
times = torch.arange(T, dtype=torch.float64) * DT_MS
expected = stdp_pair_sum(times[pre_1.flatten()], times[post_1.flatten()], window)
assert torch.allclose(w[0, 0], expected, rtol=1e-12, atol=1e-15)
# [window-end]


# [plug-in]
# Step 3: the compiled loop runs trace STDP only, so it refuses this window ...
my_rule = STDPParams(window, w_min=0.0, w_max=2.0)
try:
    build("numba", my_rule)
except ValueError as e:
    assert "trace form" in str(e)
else:
    raise AssertionError("the simulator accepted a window without a trace form")


# ... but the simulator hands out the weights it propagates from (net.weights(name) is a
# view of its store), so a rule can update them between runs. With chunk_ms = dt this is
# exactly the in-loop schedule (learning after the step's propagation); longer chunks apply
# the changes later, in bulk, and run faster.
def run_with_rule(net: Network, name: str, rule: STDPParams, duration_ms: float,
                  chunk_ms: float, capacity: int = 64) -> None:
    """Run ``net`` for ``duration_ms``, updating projection ``name`` with ``rule`` after each
    chunk from the spikes of that chunk (pairs across chunks included: the history is kept).

    ``capacity``: spikes remembered per neuron (more than any neuron fires within the window's
    support; checked). It (re)places the spike monitors of the two populations.
    """
    proj = net.projections[name]
    layout = csr_layout(proj.indptr, proj.indices, proj.n_post)
    pre_mon, post_mon = net.monitor_spikes(proj.pre), net.monitor_spikes(proj.post)
    if rule.pairing == "nearest":
        capacity = 1  # nearest-spike pairing remembers the latest spike only
    history = init_history_state(net.batch, proj.n_pre, proj.n_post, capacity, t0_ms=net.t_ms)
    w = net.weights(name)  # updated in place: the simulator sees every change
    n = round(chunk_ms / net.dt_ms)
    for _ in range(round(duration_ms / chunk_ms)):
        first = net.step
        net.run(chunk_ms)
        pre, post = (raster(m, n, first, net.batch) for m in (pre_mon, post_mon))
        for k in range(n):
            w, history = stdp_history_step(w, pre[k], post[k], history, rule,
                                           dt_ms=net.dt_ms, csr=layout)
        pre_mon.clear()  # keep memory bounded
        post_mon.clear()


# Check 2: the driver is the in-loop rule when chunk_ms = dt. Give it step 1's exponential
# window as a plain function: it reproduces step 1's compiled run (same spikes; weights equal
# to rounding, as the sums run in another order).
exp_window = my_stdp.window
as_function = FunctionWindow(exp_window, support_ms=exp_window.support_ms)
replay = STDPParams(as_function, pairing=my_stdp.pairing, update=my_stdp.update,
                    learning_rate=my_stdp.learning_rate, w_min=my_stdp.w_min,
                    w_max=my_stdp.w_max)
driven = build("numba")
run_with_rule(driven, "ff", replay, duration_ms=T * DT_MS, chunk_ms=DT_MS)
assert torch.equal(driven.spike_counts("out"), compiled.spike_counts("out"))
assert torch.allclose(driven.weights("ff"), compiled.weights("ff"), rtol=0.0, atol=1e-12)

# Your window, plugged into both loops, in chunks of 10 ms.
plugged = {backend: build(backend) for backend in ("numba", "torch")}
for net in plugged.values():
    run_with_rule(net, "ff", my_rule, duration_ms=T * DT_MS, chunk_ms=10.0)
a, b = plugged["numba"], plugged["torch"]
# The same equality test as in step 1: your rule on the compiled loop == on the reference loop.
assert torch.equal(a.weights("ff"), b.weights("ff"))
assert torch.equal(a.spike_counts("out"), b.spike_counts("out"))
assert not torch.equal(a.weights("ff"), w0), "the rule did learn"
print(f"in-loop STDP: mean weight {float(w0.mean()):.3f} -> "
      f"{float(compiled.weights('ff').mean()):.3f}; your window: "
      f"{float(a.weights('ff').mean()):.3f} (compiled == reference in both)")
# [plug-in-end]
