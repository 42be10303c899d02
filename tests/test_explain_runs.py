"""``neuroplastic explain RUN_DIR`` on every run type that leaves a model: the model is rebuilt
from config.json + arrays.safetensors (no pickle), explained, and its explanations are checked
for faithfulness; runs of another model or without one are refused naming why."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from neuroplastic.cli import main


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tensors: one intra-op thread is ~5x faster than a pool on a loaded 2-core VM."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run(tmp_path_factory, name: str, *sets: str):
    out = tmp_path_factory.mktemp(name) / "run"
    args = ["run", name, "--out", str(out), "--no-progress"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def randman(tmp_path_factory):
    return _run(tmp_path_factory, "surrogate-randman", "epochs=3", "num_samples_per_class=20",
                "num_steps=10", "hidden=16", "batch_size=32")


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    return _run(tmp_path_factory, "cartpole", "episodes=30", "seeds=1", "random_episodes=2")


def test_explain_a_surrogate_randman_run(randman):
    """Gradient and interventional maps of the rebuilt LIF network over input × time: deleting
    the attributed input spikes first lowers the predicted class's probability faster than a
    random order, inserting them raises it faster (measured on the 12 inputs: IG deletion
    AUC 0.11 vs 0.20 random, every input lower, p = 2e-4; saliency, the weakest, p = 0.06)."""
    assert main(["explain", str(randman), "--n", "12"]) == 0
    out = randman / "explain"
    for f in ("maps.png", "curves.png", "metrics.json", "report.html"):
        assert (out / f).is_file()
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_explained"] == 12
    for method in ("ig", "gradient_shap", "interventional"):
        assert m[f"deletion_auc_{method}"] < m["deletion_auc_random"]
        assert m[f"insertion_auc_{method}"] > m["insertion_auc_random"]
        assert m[f"deletion_p_{method}"] < 0.01 and m[f"insertion_p_{method}"] < 0.01
    assert "surrogate-randman" in (out / "report.html").read_text()


def test_a_checkpoint_of_another_model_is_refused_naming_the_parameter(randman, tmp_path):
    from neuroplastic.explain.runs import explain_folder

    bad = tmp_path / "bad"
    shutil.copytree(randman, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["config"]["hidden"] = 32  # the saved weights are of a 16-neuron network
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"model\.layers\.0\.module\.weight"):
        explain_folder(bad, n_explain=4)
    assert main(["explain", str(bad)]) == 2
    # the arrays of a cartpole agent under a randman run record
    (bad / "arrays.safetensors").unlink()
    from safetensors.torch import save_file

    save_file({"w_actor_seed0": torch.zeros(2, 5)}, str(bad / "arrays.safetensors"))
    with pytest.raises(ValueError, match=r"lacks parameter 'model\."):
        explain_folder(bad, n_explain=4)


def test_cartpole_code_deletion_is_optimal_for_every_state(cartpole):
    """For a two-action softmax actor and a linear critic on a place-cell code, deleting the
    code features in the order of their single-deletion effect removes the largest possible
    share of the chosen action's drive at every step, so the deletion curve lies below the
    random order's and the insertion curve above it for *every* state (not only on average)."""
    from neuroplastic.explain.local_models import linear_code_attribution, linear_code_score
    from neuroplastic.explain.runs import _rollout_obs, load_cartpole_agent
    from neuroplastic.explain.validity import perturbation_curves

    agent, _cfg, env = load_cartpole_agent(cartpole)
    obs = _rollout_obs(env, lambda o: int(np.argmax(agent.policy(o))), 40, 0, 600)
    env.close()
    code = torch.as_tensor(np.stack([agent.encoder(o) for o in obs]))
    for output in ("policy", "value"):
        attr, t = linear_code_attribution(code, agent.w_actor, agent.w_critic,
                                          agent.params.beta, output=output)
        score = linear_code_score(agent.w_actor, agent.w_critic, agent.params.beta,
                                  output=output)
        rnd = torch.rand(attr.shape, generator=torch.Generator().manual_seed(1),
                         dtype=torch.float64)
        steps = agent.encoder.n_tilings
        for mode, sign in (("deletion", 1), ("insertion", -1)):
            ours = perturbation_curves(score, code, t, attr, steps=steps, mode=mode)
            rand = perturbation_curves(score, code, t, rnd, steps=steps, mode=mode)
            assert (sign * (ours - rand) <= 1e-12).all()
            assert (sign * (ours - rand)).sum() < 0  # and strictly somewhere
    # the code attribution is Captum's FeatureAblation (baseline 0); the silent features,
    # whose deletion changes nothing, share one group so the reference stays cheap
    from captum.attr import FeatureAblation

    score = linear_code_score(agent.w_actor, agent.w_critic, agent.params.beta)
    x = code[:2]
    attr, t = linear_code_attribution(x, agent.w_actor, agent.w_critic, agent.params.beta)
    active = torch.nonzero((x > 0).any(0))[:, 0]
    mask = torch.zeros(x.shape[1], dtype=torch.int64)
    mask[active] = torch.arange(1, active.numel() + 1)
    ref = FeatureAblation(score).attribute(x, baselines=0.0, target=t, feature_mask=mask[None])
    torch.testing.assert_close(attr, ref.to(attr.dtype))


def test_explain_a_cartpole_run(cartpole):
    assert main(["explain", str(cartpole), "--n", "30"]) == 0
    m = json.loads((cartpole / "explain" / "metrics.json").read_text())
    assert (cartpole / "explain" / "maps.png").is_file()
    assert m["n_explained"] == 30
    for name in ("policy_code", "value_code"):
        assert m[f"{name}_deletion_auc"] < m[f"{name}_deletion_auc_random"]
        assert m[f"{name}_insertion_auc"] > m[f"{name}_insertion_auc_random"]
        assert m[f"{name}_deletion_p"] < 0.01
    assert 0 <= m["policy_obs_deletion_p"] <= 1


def test_explain_a_lever_delay_run(tmp_path_factory):
    """The critic's value along the trials is explained by deleting microstimulus features:
    as a linear read-out, the attributed order is optimal, so it beats a random order."""
    run = _run(tmp_path_factory, "lever-delay", "delays_s=1.0,2.0", "trials=30")
    assert main(["explain", str(run)]) == 0
    m = json.loads((run / "explain" / "metrics.json").read_text())
    assert m["block"] == "code_trace_D2"
    assert m["value_code_deletion_auc"] < m["value_code_deletion_auc_random"]
    assert m["value_code_insertion_auc"] > m["value_code_insertion_auc_random"]
    assert m["value_code_deletion_p"] < 0.01
    assert 0 <= m["p_lever_at_choice"] <= 1


@pytest.mark.parametrize("name,why", [("cuba", "no learned model"),
                                      ("habituation", "leaves no model explain can rebuild")])
def test_runs_without_a_model_are_refused_saying_why(tmp_path, name, why):
    from neuroplastic.explain.runs import explain_folder

    (tmp_path / "run.json").write_text(json.dumps({"experiment": name}))
    with pytest.raises(ValueError, match=why):
        explain_folder(tmp_path)
    assert main(["explain", str(tmp_path)]) == 2
