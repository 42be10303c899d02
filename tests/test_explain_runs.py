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


def _with_config(run, dest, key, value):
    """A copy of the result folder ``run`` at ``dest`` whose config.json sets ``key``."""
    shutil.copytree(run, dest)
    cfg = json.loads((dest / "config.json").read_text())
    cfg["config"][key] = value
    (dest / "config.json").write_text(json.dumps(cfg))
    return dest


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

    # the saved weights are of a 16-neuron network
    bad = _with_config(randman, tmp_path / "bad", "hidden", 32)
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


# ------------------------------------------------------------------------------ cerebellum
@pytest.fixture(scope="module")
def force_field(tmp_path_factory):
    return _run(tmp_path_factory, "force-field", "baseline_trials=1", "field_trials=6",
                "washout_trials=1", "n_granule=150")


def test_force_field_granule_deletion_is_exact_and_optimal(force_field):
    """The adaptive controller's correction is a linear Purkinje read-out of the granule
    code: the attribution of a granule cell is Captum's FeatureAblation (baseline 0) and sums
    to the correction (completeness), and deleting the cells in its order gives a deletion
    curve at or below a random order's at every step for every context (insertion above)."""
    from captum.attr import FeatureAblation

    from neuroplastic.explain.local_models import (
        cerebellum_readout,
        granule_attribution,
        granule_readout_score,
        mossy_attribution,
    )
    from neuroplastic.explain.runs import load_force_field
    from neuroplastic.explain.validity import perturbation_curves

    lab, _cfg = load_force_field(force_field)
    cb = lab.controller.cb
    where = [(k, i) for k in range(8) for i in range(0, lab.env.steps, 3)]
    mossy = np.stack([lab.context(k, i) for k, i in where])
    x = torch.as_tensor(np.stack([cb.granule(r) for r in mossy]))
    y = -cb.params.dn_gain * x.numpy() @ cb.weights.T
    assert np.abs(y).max() > 0.05  # it learned a correction
    u = y / np.linalg.norm(y, axis=1, keepdims=True).clip(1e-12)
    v = cerebellum_readout(cb.weights, cb.params.dn_gain, u)
    attr, t = granule_attribution(x, v)
    score = granule_readout_score(v)
    torch.testing.assert_close(attr.sum(1), score(x)[:, 0])
    torch.testing.assert_close(score(x)[:, 0], torch.as_tensor(np.linalg.norm(y, axis=1)))
    rnd = torch.rand(attr.shape, generator=torch.Generator().manual_seed(1),
                     dtype=torch.float64)
    for mode, sign in (("deletion", 1), ("insertion", -1)):
        ours = perturbation_curves(score, x, t, attr, steps=5, mode=mode)
        rand = perturbation_curves(score, x, t, rnd, steps=5, mode=mode)
        assert (sign * (ours - rand) <= 1e-9).all()
        assert (sign * (ours - rand)).sum() < 0
    xs, vs = x[:2], v[:2]
    active = torch.nonzero((xs > 0).any(0))[:, 0]
    mask = torch.zeros(xs.shape[1], dtype=torch.int64)
    mask[active] = torch.arange(1, active.numel() + 1)
    ref = FeatureAblation(granule_readout_score(vs)).attribute(
        xs, baselines=0.0, target=t[:2], feature_mask=mask[None])
    torch.testing.assert_close(granule_attribution(xs, vs)[0], ref)
    # occluding the target fibres: only the context's own (active) target fibre matters
    m_attr, _ = mossy_attribution(cb.granule, mossy, v)
    tgt = torch.tensor([k for k, _i in where])
    assert (m_attr[:, :8].abs().argmax(1) == tgt).all()
    others = m_attr[:, :8].clone()
    others[torch.arange(len(where)), tgt] = 0.0
    assert (others == 0).all()


def test_explain_a_force_field_run(force_field, tmp_path):
    assert main(["explain", str(force_field), "--n", "40"]) == 0
    out = force_field / "explain"
    assert (out / "maps.png").is_file() and (out / "report.html").is_file()
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_explained"] == 40
    assert m["controller_granule_completeness_err"] < 1e-12
    assert m["forward_granule_completeness_err"] < 1e-12
    for name in ("controller_granule", "controller_mossy", "forward_granule", "forward_vars"):
        assert m[f"{name}_deletion_auc"] < m[f"{name}_deletion_auc_random"]
        assert m[f"{name}_insertion_auc"] > m[f"{name}_insertion_auc_random"]
        assert m[f"{name}_deletion_p"] < 0.01 and m[f"{name}_insertion_p"] < 0.01
    # the forward model is explained at the states of reaches with both cerebella frozen
    from neuroplastic.explain.runs import _force_field_rollout, load_force_field

    lab, cfg = load_force_field(force_field)
    before = {k: v.copy() for k, v in lab.forward.cb.state_dict().items() if k != "x"}
    obs = _force_field_rollout(lab, cfg.field_strength)
    assert obs.shape == (8 * lab.env.steps, 4) and np.isfinite(obs).all()
    for k, v in before.items():
        np.testing.assert_array_equal(lab.forward.cb.state_dict()[k], v)
    assert "learn" not in vars(lab.forward.cb)  # the learning rule is back after the roll-out
    # a checkpoint of another model is refused naming the parameter
    from neuroplastic.explain.runs import explain_folder

    for key, value, match in (("n_granule", 300, r"'controller\.w_fast' has shape"),
                              ("seed", 5, r"'controller\.wiring' differs")):
        bad = _with_config(force_field, tmp_path / key, key, value)
        with pytest.raises(ValueError, match=match):
            explain_folder(bad, n_explain=4)


def test_explain_an_eyeblink_run(tmp_path_factory, tmp_path):
    """The rebuilt cerebella reproduce the run's CR at the US time exactly; deleting granule
    cells or occluding CS-trace microstimuli in attribution order removes the CR near the US
    faster than a random order; and the microstimulus whose occlusion removes most of the CR
    is the one that peaks at the CS-US interval (the timing the cerebellum learned)."""
    run = _run(tmp_path_factory, "eyeblink", "trials=20", "n_granule=150")
    assert main(["explain", str(run)]) == 0
    m = json.loads((run / "explain" / "metrics.json").read_text())
    ran = json.loads((run / "metrics.json").read_text())
    for isi in (250, 500):
        assert m[f"cr_at_us_{isi}"] == pytest.approx(ran[f"cr_amplitude_{isi}"], abs=1e-12)
    assert m["cr_granule_completeness_err"] < 1e-12
    for name in ("cr_granule", "cr_mossy"):
        assert m[f"{name}_deletion_auc"] < m[f"{name}_deletion_auc_random"]
        assert m[f"{name}_insertion_auc"] > m[f"{name}_insertion_auc_random"]
        assert m[f"{name}_deletion_p"] < 0.01 and m[f"{name}_insertion_p"] < 0.01
    from neuroplastic.explain.local_models import cerebellum_readout, mossy_attribution
    from neuroplastic.explain.runs import _eyeblink_rows, load_eyeblink

    cbs, cfg = load_eyeblink(run)
    codes, _crs, _rows = _eyeblink_rows(cbs, cfg, 100)
    for isi, (cb, code) in cbs.items():
        k = isi // cfg.dt_ms
        v = cerebellum_readout(cb.weights, cb.params.dn_gain, np.ones((1, 1)))
        a, _ = mossy_attribution(cb.granule, codes[isi][k:k + 1], v)
        peak_ms = -cfg.trace_tau_ms * np.log(code.centres[int(a[0].argmax())])
        assert abs(peak_ms - isi) <= 0.2 * isi
    # an interval the config does not name: refused naming the parameter
    bad = _with_config(run, tmp_path / "bad", "isis_ms", [250])
    from neuroplastic.explain.runs import explain_folder

    with pytest.raises(ValueError, match=r"parameter 'w_500' is not part"):
        explain_folder(bad, n_explain=4)


def test_explain_a_sanger_pca_run(tmp_path_factory, tmp_path):
    """Sanger's PCA is a linear map: the occlusion (pixel -> its mean) and IG attributions of
    a component score equal the analytic ``W_ji (x_i - mean_i)``, sum to the score, and
    deleting pixels in their order is at or below a random order at every step."""
    run = _run(tmp_path_factory, "sanger-pca", "n_epochs=2", "n_components=4")
    assert main(["explain", str(run), "--n", "30"]) == 0
    m = json.loads((run / "explain" / "metrics.json").read_text())
    assert m["n_explained"] == 30
    assert m["occlusion_analytic_max_err"] < 1e-12 and m["completeness_max_err"] < 1e-12
    assert m["ig_analytic_max_err"] < 1e-6
    assert m["component_deletion_p"] < 0.01 and m["component_insertion_p"] < 0.01
    from neuroplastic.explain.runs import baseline_curves, load_sanger_pca, pca_score
    from neuroplastic.plasticity.pca import SangerPCA

    comp, mean, _cfg, x, _y = load_sanger_pca(run)
    # the centring the estimator learned is the running mean of every sample: the data mean
    np.testing.assert_allclose(SangerPCA(4, n_epochs=1).fit(x.numpy()).mean_, mean,
                               atol=1e-12)
    x = x[:20]
    w, mu = torch.as_tensor(comp), torch.as_tensor(mean)
    z = (x - mu) @ w.T
    t = z.abs().argmax(1)
    signs = torch.sign(z)
    score = pca_score(comp, mean, signs)
    attr = signs.gather(1, t[:, None]) * w[t] * (x - mu)
    rnd = torch.rand(attr.shape, generator=torch.Generator().manual_seed(1),
                     dtype=torch.float64)
    for mode, sign in (("deletion", 1), ("insertion", -1)):
        ours = baseline_curves(score, x, t, attr, mu, mode=mode)
        rand = baseline_curves(score, x, t, rnd, mu, mode=mode)
        assert (sign * (ours - rand) <= 1e-9).all()
    bad = _with_config(run, tmp_path / "bad", "n_components", 8)
    from neuroplastic.explain.runs import explain_folder

    with pytest.raises(ValueError, match=r"parameter 'components' has shape \(4, 64\)"):
        explain_folder(bad, n_explain=4)


def test_a_hopper_walk_run_is_refused_by_name(tmp_path_factory, capsys):
    """A walk run on Hopper-v5 (posture agent) is refused naming `env`, not misread as the
    pendulum's push levels."""
    pytest.importorskip("mujoco", reason="gymnasium[mujoco] is not installed")
    run = _run(tmp_path_factory, "walk", "env=hopper", "episodes=2", "seeds=1",
               "max_steps=20", "criterion=10", "change_episode=2", "window=1",
               "frames=0")
    assert main(["explain", str(run)]) == 2
    err = capsys.readouterr().err
    assert "env" in err and "hopper" in err


def test_explain_a_continual_stdp_run(tmp_path_factory, tmp_path):
    """Both Diehl & Cook networks of a continual-stdp run are rebuilt with the experiment's own
    parameters (``continual_stdp.model_params``) and explained; another size is refused."""
    from neuroplastic.explain.runs import explain_folder

    run = _run(tmp_path_factory, "continual-stdp", "n_exc=20", "epochs=1")
    assert main(["explain", str(run), "--n", "10"]) == 0
    m = json.loads((run / "explain" / "metrics.json").read_text())
    for cond in ("gated", "ungated"):
        assert m[f"{cond}_n_explained"] == 10
        assert 0.0 <= m[f"{cond}_accuracy_explained"] <= 1.0
    # the saved weights are of a 20-neuron network
    bad = _with_config(run, tmp_path / "bad", "n_exc", 30)
    with pytest.raises(ValueError, match=r"'weights_gated'"):
        explain_folder(bad, n_explain=4)
