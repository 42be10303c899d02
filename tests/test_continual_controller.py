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
