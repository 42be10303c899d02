"""Attributions depend on their seed only, not on the global random state (issue 16; a
resumed run recomputes them and must get the same numbers, issue 12)."""

from __future__ import annotations

import numpy as np
import torch

from neuroplastic.explain import CountScore, attribute
from neuroplastic.explain.models import spiking_mlp


def test_gradient_shap_ignores_and_preserves_the_global_generators():
    score = CountScore(spiking_mlp(6, 8, 3, seed=1).eval(), "softmax")
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(4, 10, 6, generator=g) < 0.3).float()
    y = torch.tensor([0, 1, 2, 0])
    np.random.seed(1)  # noqa: NPY002 - the legacy global state is what is tested
    torch.manual_seed(1)
    a = attribute("gradient_shap", score, x, y, seed=7)
    np_after, torch_after = np.random.get_state()[1].copy(), torch.get_rng_state()  # noqa: NPY002
    np.random.seed(99)  # noqa: NPY002
    torch.manual_seed(99)
    b = attribute("gradient_shap", score, x, y, seed=7)
    assert torch.equal(a, b)
    assert not torch.equal(a, attribute("gradient_shap", score, x, y, seed=8))
    np.random.seed(1)  # noqa: NPY002
    torch.manual_seed(1)
    attribute("gradient_shap", score, x, y, seed=7)
    assert np.array_equal(np.random.get_state()[1], np_after)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_after)
