"""Tutorial: train a spiking network with surrogate gradients on the bundled digits.

Run it with ``.venv/bin/python docs/tutorials/surrogate_training.py`` (about 10 s on 2 cores).
Every claim is an ``assert``; ``tests/test_tutorials.py`` runs this file.
"""

from __future__ import annotations

import tempfile

import torch
from torch import nn

from neuroplastic.data import spike_digits
from neuroplastic.surrogate import (
    LIF,
    Sequential,
    Surrogate,
    TimeDistributed,
    Trainer,
    discrete_lif_params,
    spike_count_cross_entropy,
    spike_count_predict,
)

# [data]
# The 8x8 scikit-learn digits (bundled, no download) as Poisson spike trains: 16 steps of 1 ms,
# a black pixel fires in every step. Spikes are time-major: (time, samples, 64 pixels).
data = spike_digits(num_steps=16, max_rate_hz=1000.0, seed=0)
assert data.spikes_train.shape == (16, 1347, 64) and data.spikes_test.shape == (16, 450, 64)


class Batches:
    """Time-major mini-batches ``(x (T, B, 64) float32, y (B,))``, reshuffled every pass.

    The Trainer reseeds ``generator`` at the start of every epoch, which makes a resumed run
    draw the same batches as an uninterrupted one.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 shuffle: bool = False) -> None:
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        n = len(self.y)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for first in range(0, n, self.batch_size):
            idx = order[first : first + self.batch_size]
            yield self.x[:, idx].to(torch.float32), self.y[idx]


train = Batches(data.spikes_train, data.y_train, batch_size=32, shuffle=True)
test = Batches(data.spikes_test, data.y_test, batch_size=256)
# [data-end]


# [model]
def make_model(seed: int = 0) -> nn.Module:
    """64 inputs -> 64 LIF -> 10 LIF. ``discrete_lif_params`` gives the usual dimensionless
    neuron (v <- 0.9 v + I, threshold 1, reset by subtraction); the surrogate derivative is a
    fast sigmoid of slope 25."""
    torch.manual_seed(seed)
    neuron = discrete_lif_params(beta=0.9, threshold=1.0, reset_mode="subtract")
    surrogate = Surrogate("fast_sigmoid", 25.0)
    return Sequential(
        TimeDistributed(nn.Linear(64, 64)),  # the same Linear applied at every time step
        LIF(64, neuron, surrogate=surrogate),
        TimeDistributed(nn.Linear(64, 10)),
        LIF(10, neuron, surrogate=surrogate),  # predicted class = the most active neuron
    )


model = make_model()
spikes, states = model(next(iter(test))[0])  # every layer returns (output, state)
assert spikes.shape == (16, 256, 10) and spikes.dtype == torch.float32
# [model-end]


# [train]
def make_trainer(model: nn.Module, epochs: int, checkpoint_dir: str | None = None) -> Trainer:
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    return Trainer(model, opt, spike_count_cross_entropy, train, val_loader=test,
                   epochs=epochs, predict=spike_count_predict, seed=0,
                   checkpoint_dir=checkpoint_dir, progress=False)


trainer = make_trainer(model, epochs=3)
history = trainer.fit()  # one dict of metrics per epoch
for h in history:
    print(f"epoch {h['epoch']}: loss {h['train_loss']:.3f}, test accuracy "
          f"{h['val_accuracy']:.3f}, spikes/neuron/step {h['val_spike_rate']:.3f}")
assert history[-1]["val_accuracy"] > 0.85  # 0.938 with these seeds
assert history[-1]["train_loss"] < history[0]["train_loss"]
# [train-end]

# [resume]
# Checkpoints (safetensors + JSON, no pickle) after every epoch; a new trainer that loads
# one continues exactly where the old one stopped: same weights, bit for bit, as the
# uninterrupted run above.
with tempfile.TemporaryDirectory() as ckpt:
    make_trainer(make_model(), epochs=2, checkpoint_dir=ckpt).fit()  # "killed" after epoch 2
    resumed = make_trainer(make_model(seed=1), epochs=3)
    resumed.load(ckpt)  # model, optimizer state, epoch counter and history
    assert resumed.epoch == 2
    resumed.fit()  # runs epoch 3 only
for name, tensor in model.state_dict().items():
    assert torch.equal(tensor, resumed.module.state_dict()[name]), name
assert resumed.history == history
# [resume-end]
