"""The stability-plasticity controller: alpha rises at a data-detected task switch, falls as the
task is learned; beta rises with consolidation; bad parameters are refused by name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuroplastic.continual.controller import (
    ControllerParams,
    StabilityPlasticityController,
    controlled_loss,
)
from neuroplastic.continual.streams import split_digits


def test_alpha_rises_at_a_detected_switch_and_falls_as_the_task_is_learned():
    # a real network learning split-digits tasks 0 and 1 in sequence (the boundary is not told)
    torch.manual_seed(0)
    tasks = split_digits()[:3]
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    ctl = StabilityPlasticityController(ControllerParams())
    g = torch.Generator().manual_seed(0)
    boundaries, step = [], 0
    for t in tasks:
        boundaries.append(step)
        for _ in range(4):  # epochs
            order = torch.randperm(t.y_train.numel(), generator=g)
            for lo in range(0, order.numel(), 16):
                idx = order[lo : lo + 16]
                loss = nn.functional.cross_entropy(net(t.x_train[idx]), t.y_train[idx])
                ctl.step(float(loss.detach()))
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
    assert ctl.switch_steps == boundaries[1:]  # exactly the true switches, found from the data
    a = ctl.alpha_history
    for s in boundaries[1:]:
        assert a[s] > a[s - 1] + 0.5  # alpha jumps at the switch
        assert a[s + 40] < 0.5 * a[s]  # and falls as the new task is learned
    b = ctl.beta_history
    assert b[boundaries[1] - 1] == 0.0 and b[boundaries[1]] == 1.0 and b[-1] == 2.0


def test_fixed_surprise_levels_and_objective():
    ctl = StabilityPlasticityController(ControllerParams(warmup=3, refractory=3))
    for _ in range(20):
        ctl.step(1.0)
    assert ctl.switch_steps == [] and ctl.alpha == pytest.approx(0.2)
    assert controlled_loss(1.0, 3.0, torch.tensor(2.0), torch.tensor(4.0)) == pytest.approx(3.5)
    assert controlled_loss(1.0, 3.0, torch.tensor(2.0), 4.0, normalize=False) == 14.0


@pytest.mark.parametrize("name", ["alpha_base", "alpha_release", "beta_base", "beta_release"])
def test_negative_alpha_beta_refused(name):
    with pytest.raises(ValueError, match=name):
        ControllerParams(**{name: -0.1})
    with pytest.raises(ValueError, match="alpha and beta"):
        controlled_loss(-1.0, 1.0, torch.tensor(1.0), 1.0)
    with pytest.raises(ValueError, match="expectation_rate"):
        ControllerParams(expectation_rate=0.0)


def test_float_controller_equals_the_tensor_controller_step_bit_for_bit():
    # the wrapper steps on Python floats; controller_step (tensors) is the reference
    from neuroplastic.continual.controller import controller_step, init_controller

    params = ControllerParams(alpha_tau=7.0, beta_tau=40.0, warmup=3, refractory=5,
                              switch_threshold=2.0)
    g = torch.Generator().manual_seed(3)
    losses = torch.cat([2.0 + 0.1 * torch.randn(30, generator=g),  # task 1
                        5.0 + 0.1 * torch.randn(30, generator=g),  # a switch: the loss jumps
                        torch.linspace(5.0, 0.5, 30)]).tolist()
    ctl = StabilityPlasticityController(params)
    ref = init_controller(params)
    switches = []
    for i, loss in enumerate(losses):
        ref, sw = controller_step(ref, loss, params)
        if sw:
            switches.append(i)
        assert ctl.step(loss) == sw
        assert ctl.alpha == float(ref.alpha) and ctl.beta == float(ref.beta)
        for a, b in zip(ctl.state, ref):
            assert torch.equal(a, b)
        if i == 45:  # a consolidation told from outside, then a state round trip
            ctl.consolidate()
            from neuroplastic.continual.controller import consolidate
            ref = consolidate(ref, params)
            ctl.state = ctl.state
    assert switches and ctl.switch_steps == switches
    with pytest.raises(ValueError, match="loss"):
        ctl.step(float("nan"))
