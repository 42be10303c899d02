"""Trainer: learning happens, resume is bit-exact, DDP equals one process on the full batch."""

from __future__ import annotations

import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from neuroplastic.surrogate import (
    LIF,
    EventLinear,
    RateRegularizer,
    Sequential,
    Trainer,
    discrete_lif_params,
    spike_count_cross_entropy,
)

F64 = torch.float64


def _model(seed: int = 0) -> Sequential:
    torch.manual_seed(seed)
    p = discrete_lif_params(0.9, 1.0)
    return Sequential(
        EventLinear(20, 32, max_density=0.5, dtype=F64), LIF(32, p, dtype=F64),
        EventLinear(32, 3, dtype=F64), LIF(3, p, dtype=F64),
    )


def _data(n_batches: int, batch: int, seed: int = 1):
    """Three classes, each a different set of input channels active more often."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        y = torch.randint(0, 3, (batch,), generator=g)
        rate = torch.full((batch, 20), 0.03, dtype=F64)
        for c in range(3):
            rate[y == c, c * 6:(c + 1) * 6] = 0.4
        x = (torch.rand(25, batch, 20, generator=g, dtype=F64) < rate).to(F64)
        out.append((x, y))
    return out


def test_trainer_learns_and_reports_metrics():
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    tr = Trainer(model, opt, spike_count_cross_entropy, _data(6, 16), val_loader=_data(2, 16, 7),
                 epochs=6, regularizer=RateRegularizer(0.2, 0.1), progress=False)
    hist = tr.fit()
    assert [h["epoch"] for h in hist] == list(range(1, 7))
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert hist[-1]["val_accuracy"] > 0.6  # chance is 1/3
    assert 0.0 < hist[-1]["train_spike_rate"] < 1.0


def _shuffled_loader():
    xs, ys = zip(*_data(1, 48))
    ds = torch.utils.data.TensorDataset(xs[0].transpose(0, 1), ys[0])

    def collate(items):
        x = torch.stack([i[0] for i in items], 1)
        return x, torch.stack([i[1] for i in items])

    return torch.utils.data.DataLoader(ds, batch_size=12, shuffle=True, collate_fn=collate)


def _trainer(epochs, tmp=None):
    model = _model()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    return Trainer(model, opt, spike_count_cross_entropy, _shuffled_loader(), epochs=epochs,
                   seed=3, checkpoint_dir=tmp, progress=False)


def test_resume_is_bit_exact(tmp_path):
    straight = _trainer(4)
    straight.fit()
    first = _trainer(2, tmp_path)
    first.fit()
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    assert meta["epoch"] == 2 and "param_groups" in meta
    torch.manual_seed(12345)  # disturb the global generator: resume must not depend on it
    resumed = _trainer(4)
    resumed.load(tmp_path)
    resumed.fit()
    for (k, a), (_, b) in zip(straight.module.state_dict().items(),
                              resumed.module.state_dict().items()):
        assert torch.equal(a, b), k
    sa, sb = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    for i in sa["state"]:
        assert torch.equal(sa["state"][i]["exp_avg_sq"], sb["state"][i]["exp_avg_sq"])
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"]
                                                           for h in resumed.history]
    # and a different seed gives a different run (the check above is not vacuous)
    other = _trainer(4)
    other.seed = 4
    other.fit()
    assert not torch.equal(other.module.layers[0].weight, straight.module.layers[0].weight)


def _ddp_worker(rank: int, world: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    model = _model()
    data = [(x[:, rank * 8:(rank + 1) * 8], y[rank * 8:(rank + 1) * 8]) for x, y in _data(3, 16)]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Trainer(model, opt, spike_count_cross_entropy, data, epochs=2, progress=False).fit()
    if rank == 0:
        torch.save({k: v.clone() for k, v in model.state_dict().items()}, out)
    dist.barrier()
    dist.destroy_process_group()


def test_ddp_two_processes_equal_one_process_on_full_batch(tmp_path):
    out = str(tmp_path / "ddp.pt")
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "store"), out), nprocs=2, join=True)
    ddp = torch.load(out)
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Trainer(model, opt, spike_count_cross_entropy, _data(3, 16), epochs=2, progress=False).fit()
    moved = False
    for k, v in model.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-9, atol=1e-9)
        moved |= not torch.equal(v, _model().state_dict()[k])
    assert moved


def test_trainer_validates():
    model = _model()
    opt = torch.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="epochs"):
        Trainer(model, opt, spike_count_cross_entropy, [], epochs=0)
    with pytest.raises(ValueError, match="regularizer"):
        Trainer(model, opt, spike_count_cross_entropy, [], regularizer=0.1)
    with pytest.raises(ValueError, match="torch device"):
        Trainer(model, opt, spike_count_cross_entropy, [], device="gpu-please")
    with pytest.raises(ValueError, match="'cpu' or a CUDA device"):
        Trainer(model, opt, spike_count_cross_entropy, [], device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            Trainer(model, opt, spike_count_cross_entropy, [], device="cuda")


def test_device_cpu_is_the_same_run():
    """``device="cpu"`` moves nothing that is not there already: the same history bit for
    bit as leaving the device unset (the path a GPU run takes, minus the GPU)."""
    hists = []
    for device in (None, "cpu"):
        model = _model()
        opt = torch.optim.Adam(model.parameters(), lr=2e-2)
        tr = Trainer(model, opt, spike_count_cross_entropy, _data(4, 16), epochs=2, seed=5,
                     progress=False, device=device)
        hists.append(tr.fit())
    assert hists[0] == hists[1]
