"""A continual learner: one network, one method, task after task (ANN or surrogate-gradient SNN).

Methods (``LearnerParams.method``):

* ``naive`` — plain sequential training (the lower bound; also the time reference);
* ``ewc``, ``online-ewc``, ``si``, ``mas`` — quadratic penalty with the importance of
  :mod:`.importance`; ``laplace`` — diagonal online Laplace (:mod:`.laplace`);
* ``vcl`` — mean-field Gaussian weights with the previous posterior as prior (:mod:`.vcl`);
* ``replay`` — class-conditional generative replay with distillation (:mod:`.replay`), no
  stored inputs;
* ``lwf`` — Learning without Forgetting (:mod:`.distill`): the previous network's outputs on
  the *new* inputs are distilled (no old data, no generator);
* ``er`` — experience replay from a buffer of ``buffer_size`` stored raw samples, balanced
  over the tasks seen (Avalanche's ``Replay``); a reference that stores data;
* ``joint`` — trains on the union of all tasks so far (the upper bound; stores raw samples).

With ``controller=True`` the losses are weighted by the stability–plasticity controller
(:mod:`.controller`): ``(α·L_learn + β·L_forget)/(α+β)``, α from the loss surprise on incoming
data, β released at each consolidation. Without it the weights are ``1/t`` and ``1 - 1/t``
(``t`` tasks so far) for replay, and ``1`` and ``strength`` for penalties.

Networks: ``ann`` = MLP ``n_in-H-H-C`` (ReLU); ``snn`` = the same layer sizes with LIF hidden
layers (:class:`~neuroplastic.surrogate.LIF`, surrogate gradients) driven by the pixel values
as a constant input current for ``num_steps`` steps, read out by a leaky integrator
(:class:`~neuroplastic.surrogate.LI`) whose mean membrane is the logit.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_choice, check_int, check_nonnegative, check_positive, check_range
from .controller import ControllerParams, StabilityPlasticityController, controlled_loss
from .distill import (
    LearningWithoutForgetting,
    distillation_from_targets,
    soft_targets,
)
from .importance import (
    Importance,
    SynapticIntelligence,
    combine_maps,
    fisher_diagonal,
    mas_importance,
    named_parameters,
)
from .laplace import OnlineLaplace
from .metrics import accuracy
from .penalty import QuadraticPenalty
from .replay import ClassConditionalGenerator
from .streams import Task
from .vcl import MeanFieldLinear, model_kl, update_prior

__all__ = ["METHODS", "ContinualLearner", "LearnerParams", "SpikingMLP", "build_model"]

METHODS = ("naive", "ewc", "online-ewc", "si", "mas", "laplace", "vcl", "replay", "lwf", "er",
           "joint")
PENALTY_METHODS = ("ewc", "online-ewc", "si", "mas", "laplace")


@dataclass(frozen=True)
class LearnerParams:
    method: Literal["naive", "ewc", "online-ewc", "si", "mas", "laplace", "vcl", "replay",
                    "lwf", "er", "joint"] = "replay"
    network: Literal["ann", "snn"] = "ann"
    # class: one head over the classes seen so far; task: the task is given, the loss of a
    # sample compares only its task's classes (= one head per task)
    scenario: Literal["class", "task"] = "class"
    hidden: int = 256
    epochs: int = 20  # per task
    batch_size: int = 32
    lr: float = 1e-3  # Adam
    strength: float = 1000.0  # penalty lambda (EWC/SI/MAS/online-EWC) or Laplace data scale
    online_decay: float = 0.9  # gamma of online EWC
    si_damping: float = 0.1
    importance_samples: int = 200  # samples per task for Fisher / MAS
    replay_components: int = 10  # PPCA directions per class
    temperature: float = 2.0  # distillation (replay, lwf)
    temperature_weight: float = 1.0  # weight of the distillation term (replay, lwf)
    buffer_size: int = 200  # er: stored raw samples
    replay_batch: int = 0  # replay / er: replayed samples per step (0: batch_size)
    replay_clusters: int = 1  # replay: PPCA models per class (a mixture)
    replay_every: int = 1  # replay / er: replayed samples join every k-th step only
    replay_noise: bool = True  # replay: add the generator's isotropic residual noise
    # replay / er: the incoming samples' loss compares only their task's classes, replayed
    # samples compare all classes seen (asymmetric cross-entropy, Caccia et al. 2022)
    asymmetric: bool = False
    controller: bool = True
    # signals of the controller (alpha_release = beta_release = 0: fixed alpha, beta)
    controller_params: ControllerParams = ControllerParams(
        alpha_base=1.0, alpha_release=1.0, beta_release=1.0)
    num_steps: int = 10  # SNN time steps
    beta_mem: float = 0.9  # SNN membrane decay per step
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("method", self.method, METHODS)
        check_choice("network", self.network, ("ann", "snn"))
        check_choice("scenario", self.scenario, ("class", "task"))
        check_int("hidden", self.hidden, 1)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_positive("lr", self.lr)
        check_nonnegative("strength", self.strength)
        check_range("online_decay", self.online_decay, 0.0, 1.0)
        check_positive("si_damping", self.si_damping)
        check_int("importance_samples", self.importance_samples, 1)
        check_int("replay_components", self.replay_components, 1)
        check_int("replay_clusters", self.replay_clusters, 1)
        check_int("replay_every", self.replay_every, 1)
        check_positive("temperature", self.temperature)
        check_nonnegative("temperature_weight", self.temperature_weight)
        check_int("buffer_size", self.buffer_size, 1)
        check_int("replay_batch", self.replay_batch, 0)
        check_int("num_steps", self.num_steps, 1)
        check_range("beta_mem", self.beta_mem, 0.0, 1.0)
        check_int("seed", self.seed, 0)
        if not isinstance(self.controller_params, ControllerParams):
            raise ValueError(f"controller_params must be ControllerParams, got "
                             f"{type(self.controller_params).__name__}")


class SpikingMLP(nn.Module):
    """``n_in -> LIF(H) -> LIF(H) -> LI(C)``; input = pixel values as constant current."""

    def __init__(self, n_in: int, hidden: int, n_out: int, *, num_steps: int, beta: float,
                 linear: type = nn.Linear, **kw) -> None:
        super().__init__()
        from ..surrogate import LI, LIF, TimeDistributed, discrete_lif_params

        p = discrete_lif_params(beta, 1.0, reset_mode="subtract")
        self.num_steps = num_steps
        self.fc1 = linear(n_in, hidden, **kw)
        self.lif1 = LIF(hidden, p)
        self.fc2 = TimeDistributed(linear(hidden, hidden, **kw))
        self.lif2 = LIF(hidden, p)
        self.fc3 = TimeDistributed(linear(hidden, n_out, **kw))
        self.out = LI(n_out, p)

    def forward(self, x: Tensor) -> Tensor:
        cur = self.fc1(x).unsqueeze(0).expand(self.num_steps, -1, -1).contiguous()
        s1, _ = self.lif1(cur)
        s2, _ = self.lif2(self.fc2(s1))
        mem, _ = self.out(self.fc3(s2))
        return mem.mean(0)


def build_model(p: LearnerParams, n_in: int, n_out: int) -> nn.Module:
    """The network of ``p`` (seeded by ``p.seed``)."""
    torch.manual_seed(p.seed)
    kw: dict = {}
    linear: type = nn.Linear
    if p.method == "vcl":
        linear = MeanFieldLinear
        kw = {"prior_sigma": 1.0, "init_sigma": 1e-3,
              "generator": torch.Generator().manual_seed(p.seed + 1)}
    if p.network == "snn":
        return SpikingMLP(n_in, p.hidden, n_out, num_steps=p.num_steps, beta=p.beta_mem,
                          linear=linear, **kw)
    return nn.Sequential(linear(n_in, p.hidden, **kw), nn.ReLU(),
                         linear(p.hidden, p.hidden, **kw), nn.ReLU(),
                         linear(p.hidden, n_out, **kw))


class ContinualLearner:
    """Train one model on a stream of tasks; see the module docstring."""

    # replay without the controller: the gathered-epoch path with the closed-form loss
    # gradient (the numbers of the step-by-step autograd path up to float rounding)
    fast_replay = True

    def __init__(self, p: LearnerParams, n_in: int, n_classes: int) -> None:
        self.p, self.n_in, self.n_classes = p, n_in, n_classes
        self.model = build_model(p, n_in, n_classes)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=p.lr, fused=True)
        self.gen = torch.Generator().manual_seed(p.seed)  # batches, replay, Fisher samples
        self.seen: list[int] = []  # classes seen so far (in order)
        self.tasks_done = 0
        self.penalty = QuadraticPenalty(p.strength)
        self.importance: dict[str, Importance] | None = None
        self.si = (SynapticIntelligence(named_parameters(self.model), p.si_damping)
                   if p.method == "si" else None)
        self.laplace = OnlineLaplace(self.model, 0.0) if p.method == "laplace" else None
        self.generator = (ClassConditionalGenerator(n_in, p.replay_components,
                                                    clusters=p.replay_clusters, seed=p.seed)
                          if p.method == "replay" else None)
        self.distill = LearningWithoutForgetting(p.temperature, p.temperature_weight)
        self.memory: list[tuple[Tensor, Tensor]] = []  # er: per-task stored samples
        self.joint: list[tuple[Tensor, Tensor]] = []
        self._joint_ids: list[int] = []
        self.controller = StabilityPlasticityController(p.controller_params)
        self.n_train_task = 1
        self._pool: tuple[Tensor, ...] | None = None  # replayed samples drawn ahead
        self._pool_at = 0
        self._task_epoch = 0  # epochs trained on the current task
        self._layout: dict | None = None  # replay fast path: rows, loss constants, buffers
        if self.fast_replay and p.method == "replay" and not p.controller:
            from ._replay_kernel import warm_up

            warm_up()  # compiled once per process (loaded from numba's disk cache)
        # task scenario: row c = additive logit mask of the classes of c's task
        self._task_mask = torch.zeros(n_classes, n_classes)

    # ------------------------------------------------------------------ stored data
    @property
    def stored_raw_samples(self) -> int:
        return sum(int(y.numel()) for _, y in self.joint + self.memory)

    @property
    def teacher(self) -> nn.Module | None:
        return self.distill.teacher

    @property
    def teacher_classes(self) -> list[int]:
        return self.distill.classes

    # ------------------------------------------------------------------ training
    def begin_task(self, task: Task) -> None:
        for c in task.classes:
            if c not in self.seen:
                self.seen.append(c)
        for c in task.classes:
            self._task_mask[c] = -torch.inf
            self._task_mask[c, list(task.classes)] = 0.0
        self.n_train_task = int(task.y_train.numel())
        if self.p.method == "joint":
            self.joint.append((task.x_train, task.y_train))
            self._joint_ids.append(task.index)
        if self.generator is not None:  # class statistics, in one pass (the data are not kept)
            self.generator.observe(task.x_train, task.y_train)
        self._pool, self._pool_at, self._task_epoch = None, 0, 0

    def _task_data(self, task: Task) -> tuple[Tensor, Tensor]:
        if self.p.method == "joint":
            return (torch.cat([x for x, _ in self.joint]), torch.cat([y for _, y in self.joint]))
        return task.x_train, task.y_train

    def _replay_pool(self, n: int) -> tuple[Tensor, ...] | None:
        """Inputs, classes and the teacher's soft targets ``(q, log q)`` of ``n`` replayed
        samples, drawn at once: one generator call and one teacher pass for many steps."""
        if self.p.method != "replay" or self.teacher is None:
            return None
        xr, yr = self.generator.sample(n, generator=self.gen, noise=self.p.replay_noise)
        if self.p.temperature_weight == 0:
            return xr, yr
        # the teacher's pass in chunks: a spiking network's activity over all the steps of
        # thousands of rows does not stay in the cache (1440 rows at once: twice the time)
        chunk = 256 if self.p.network == "snn" else 2048
        with torch.no_grad():
            tz = torch.cat([self.teacher(xr[i : i + chunk]) for i in range(0, n, chunk)])
            q, log_q = soft_targets(tz, self.teacher_classes, self.p.temperature)
        return xr, yr, q, log_q

    def _replay_chunk(self, rb: int, steps_left: int) -> tuple[Tensor, ...] | None:
        """The next ``rb`` replayed samples; the pool is refilled when it runs out, with what
        the rest of the task's ``epochs`` needs (at most about 4 M input values at once)."""
        if self.p.method != "replay" or self.teacher is None:
            return None
        self._refill(rb, steps_left)
        lo = self._pool_at
        self._pool_at += rb
        return tuple(t[lo : lo + rb] for t in self._pool)

    def _refill(self, rb: int, steps_left: int) -> None:
        """A new pool when the current one has fewer than ``rb`` rows left."""
        if self._pool is None or self._pool_at + rb > self._pool[0].shape[0]:
            cap = max(rb, (1 << 22) // self.n_in // rb * rb)
            self._pool = self._replay_pool(min(max(steps_left, 1) * rb, cap))
            self._pool_at = 0

    def _memory_batch(self, n: int) -> tuple[Tensor, Tensor] | None:
        """``n`` stored samples drawn uniformly (with replacement) from the er buffer."""
        if not self.memory:
            return None
        x = torch.cat([m for m, _ in self.memory])
        y = torch.cat([c for _, c in self.memory])
        idx = torch.randint(y.numel(), (n,), generator=self.gen)
        return x[idx], y[idx]

    def _forget_loss(self, xb: Tensor, logits: Tensor, extra: Tensor | None,
                     pool_slice: tuple[Tensor, ...] | None,
                     hard: Tensor | None) -> Tensor | None:
        """Loss protecting old tasks; ``extra`` = logits of the replayed samples of the step,
        ``hard`` = their mean cross-entropy (computed with the incoming samples')."""
        p = self.p
        if p.method in ("ewc", "online-ewc", "si", "mas") and self.importance is not None:
            return self.penalty(self.model)
        if p.method == "laplace" and self.tasks_done > 0:
            return self.laplace.penalty(self.model, self.n_train_task)
        if p.method == "lwf":
            return self.distill.loss(xb, logits)
        if p.method == "er" and extra is not None:
            return hard
        if p.method == "replay" and extra is not None:
            # conditional replay: the replayed class competes with every class seen so far
            # (this keeps the new classes' outputs low on old inputs) ...
            if p.temperature_weight == 0:
                return hard
            # ... and the previous network's soft outputs are distilled
            q, log_q = pool_slice[2:]
            soft = distillation_from_targets(extra, q, log_q, self._teacher_idx, p.temperature)
            return hard + p.temperature_weight * soft
        return None

    def _masks(self, task: Task) -> tuple[Tensor, Tensor]:
        """Additive logit masks ``(incoming, replayed)`` of the class scenario: the classes
        seen so far (the incoming samples: the task's own with ``asymmetric``)."""
        seen = torch.full((self.n_classes,), -torch.inf)
        seen[torch.tensor(sorted(self.seen))] = 0.0
        if not (self.p.asymmetric and self.p.method in ("replay", "er")):
            return seen, seen
        own = torch.full((self.n_classes,), -torch.inf)
        own[torch.tensor(task.classes)] = 0.0
        return own, seen

    def train_epoch(self, task: Task) -> dict[str, float]:
        p = self.p
        if (self.fast_replay and p.method == "replay" and not p.controller
                and p.replay_every == 1):
            return self._train_epoch_replay(task)
        self.model.train()
        x, y = self._task_data(task)
        order = torch.randperm(y.numel(), generator=self.gen)
        mask, replay_mask = self._masks(task)
        per_sample = p.scenario == "task"
        rb = p.replay_batch or p.batch_size
        n_steps = -(-order.numel() // p.batch_size)
        self._task_epoch += 1
        k = p.replay_every
        replay_steps = -(-n_steps // k)
        self._teacher_idx = torch.tensor(self.teacher_classes, dtype=torch.int64)
        K = self._teacher_idx.numel()
        # the teacher's classes as a slice of the logits where they are 0..K-1 (a view)
        contiguous = K > 0 and bool((self._teacher_idx == torch.arange(K)).all())
        # fused replay steps: one weighted cross-entropy over incoming + replayed rows
        fused = not p.controller and p.method in ("replay", "er")
        t_seen = self.tasks_done + 1
        w_in, w_re = (1 / t_seen, 1 - 1 / t_seen) if p.method == "replay" else (1.0, 1.0)
        T, tw = p.temperature, p.temperature_weight
        loss_sum = n = 0.0
        both = weights = None  # masks and weights of [incoming; replayed] rows
        for step, lo in enumerate(range(0, order.numel(), p.batch_size)):
            idx = order[lo : lo + p.batch_size]
            xb, yb = x[idx], y[idx]
            b = yb.numel()
            chunk = None
            if step % k == 0:
                if p.method == "replay":
                    # replay steps left in this epoch and the task's following ones
                    left = replay_steps * max(p.epochs - self._task_epoch + 1, 1) - step // k
                    chunk = self._replay_chunk(rb, left)
                elif p.method == "er":
                    chunk = self._memory_batch(rb)
            hard = None
            if chunk is not None:  # current and replayed samples in one forward pass
                z = self.model(torch.cat([xb, chunk[0]]))
                yz = torch.cat([yb, chunk[1]])
                if per_sample:
                    m = self._task_mask[yz]
                else:
                    if both is None or both.shape[0] != yz.numel() or b != p.batch_size:
                        both = torch.cat([mask.expand(b, -1), replay_mask.expand(yz.numel() - b,
                                                                                 -1)])
                    m = both
                ce = F.cross_entropy(z + m, yz, reduction="none")  # one call for both parts
                logits, extra = z[:b], z[b:]
                if fused:
                    r = yz.numel() - b
                    if weights is None or weights.shape[0] != yz.numel() or b != p.batch_size:
                        weights = torch.cat([torch.full((b,), w_in / b),
                                             torch.full((r,), w_re / r)])
                    total = (ce * weights).sum()
                    if p.method == "replay" and tw > 0:
                        # w_re·tw·T²·mean KL(q ‖ softmax(z/T)) without its constant entropy
                        zt = extra[:, :K] if contiguous else extra.index_select(1,
                                                                              self._teacher_idx)
                        total = total + (w_re * tw * T * T / r) * F.cross_entropy(
                            zt / T, chunk[2], reduction="sum")
                    lv = float(ce.detach()[:b].mean())
                    self.controller.step(lv)
                    self._step(total)
                    loss_sum += lv * b
                    n += b
                    continue
                learn, hard = ce[:b].mean(), ce[b:].mean()
            else:
                logits, extra = self.model(xb), None
                learn = F.cross_entropy(logits + (self._task_mask[yb] if per_sample else mask),
                                        yb)
            lv = float(learn.detach())
            self.controller.step(lv)
            if p.method == "vcl":
                learn = learn + model_kl(self.model) / self.n_train_task
            forget = self._forget_loss(xb, logits, extra, chunk, hard)
            if forget is None:
                total = learn
            elif p.controller:
                total = controlled_loss(self.controller.alpha, self.controller.beta, learn,
                                        forget, normalize=True)
            elif p.method == "replay":
                t = self.tasks_done + 1
                total = learn / t + (1 - 1 / t) * forget
            else:
                total = learn + forget
            self._step(total)
            loss_sum += lv * b
            n += b
        return {"loss": loss_sum / n, "alpha": self.controller.alpha,
                "beta": self.controller.beta}

    def _train_epoch_replay(self, task: Task) -> dict[str, float]:
        """:meth:`train_epoch` of generative replay without the controller (also its first
        task, before any teacher), the same numbers up to rounding at less cost: the epoch's
        incoming and replayed rows are gathered once, in step order, into buffers kept for
        the task, so that a step is one forward pass on a view; the gradient of the whole
        loss (weighted cross-entropy over both parts plus the distillation term) with
        respect to the logits is computed in closed form by one compiled call
        (:mod:`._replay_kernel`, the formula of :func:`~.distill.replay_logit_grad`) and
        pushed through the network with one backward call — no autograd node for the loss."""
        p = self.p
        self.model.train()
        x, y = task.x_train, task.y_train
        order = torch.randperm(y.numel(), generator=self.gen)
        N, B = order.numel(), p.batch_size
        lay = self._epoch_layout(task, N)
        rb, n_steps = lay["rb"], lay["n_steps"]
        self._task_epoch += 1
        X, Y = lay["X"], lay["Y"]
        if rb:
            left = n_steps * max(p.epochs - self._task_epoch + 1, 1)
            rep = self._replay_rows(n_steps, rb, left)  # xr, yr[, q, log q]
            torch.index_select(x, 0, order, out=lay["Xin"])
            X.index_copy_(0, lay["inc_pos"], lay["Xin"])
            X.index_copy_(0, lay["rep_pos"], rep[0])
            Y.index_copy_(0, lay["inc_pos"], y[order])
            Y.index_copy_(0, lay["rep_pos"], rep[1])
            if lay["distil"]:
                lay["Q"].index_copy_(0, lay["rep_pos"], rep[2])
        else:
            torch.index_select(x, 0, order, out=X)
            torch.index_select(y, 0, order, out=Y)
        if p.scenario == "task":
            torch.index_select(self._task_mask, 0, Y, out=lay["masks"])
        kernel = lay["kernel"]
        for xs, args, g in lay["steps"]:
            z = self.model(xs)
            kernel(z.detach().numpy(), *args)
            self.opt.zero_grad(set_to_none=True)
            z.backward(g)
            self.opt.step()
        # the monitored incoming loss of every step, in one pass (the controller only watches
        # here: without it the weights are 1/t and 1 - 1/t)
        full = N // B
        ce = lay["ce"]
        means = ce[: full * (B + rb)].view(full, B + rb)[:, :B].mean(1).tolist()
        if N > full * B:
            means.append(float(ce[full * (B + rb) : full * (B + rb) + N - full * B].mean()))
        loss_sum = 0.0
        for s, lv in enumerate(means):
            self.controller.step(lv)
            loss_sum += lv * min(B, N - s * B)
        return {"loss": loss_sum / N, "alpha": self.controller.alpha,
                "beta": self.controller.beta}

    def _epoch_layout(self, task: Task, N: int) -> dict:
        """What :meth:`_train_epoch_replay` keeps for all the epochs of a task: the rows'
        positions (per step ``B`` incoming, then ``rb`` replayed), the constant parts of the
        loss (masks, weights), the row buffers and, per step, the views the step reads."""
        from ._replay_kernel import replay_grad_kernel

        p = self.p
        replaying = self.teacher is not None
        B = p.batch_size
        rb = (p.replay_batch or B) if replaying else 0
        distil = replaying and p.temperature_weight > 0
        key = (task.index, N, self.tasks_done, rb, tuple(self.seen))
        if self._layout is not None and self._layout["key"] == key:
            return self._layout
        n_steps, full = -(-N // B), N // B
        R = n_steps * rb
        T, tw = p.temperature, p.temperature_weight
        t_seen = self.tasks_done + 1
        w_in, w_re = 1 / t_seen, 1 - 1 / t_seen
        # layout row -> index in [incoming rows in step order (N); replayed rows (R)]
        src = self._interleave(torch.arange(N), torch.arange(N, N + R), B, rb)
        is_rep = src >= N
        w_inc = torch.full((N,), w_in / B)
        w_inc[full * B :] = w_in / max(N - full * B, 1)
        W = torch.cat([w_inc, torch.full((R,), w_re / max(rb, 1))])[src]
        mask, replay_mask = self._masks(task)
        masks = torch.where(is_rep.unsqueeze(1), replay_mask, mask).contiguous()
        # the soft targets' weight w_re·tw·T²/rb (mean over the replayed rows), divided by T
        S = (torch.where(is_rep, w_re * tw * T / max(rb, 1), 0.0) if distil
             else torch.zeros(N + R))
        cols = torch.tensor(self.teacher_classes if distil else [], dtype=torch.int64)
        x, y = task.x_train, task.y_train
        n_rows = N + R
        X, Y = x.new_empty((n_rows, *x.shape[1:])), y.new_empty(n_rows)
        Q = torch.zeros(n_rows, cols.numel())
        ce = torch.empty(n_rows)
        G = torch.empty(B + rb, self.n_classes)
        arrays = [a.numpy() for a in (Y, masks, W, S, Q, cols, G, ce)]
        Yn, Mn, Wn, Sn, Qn, cn, Gn, cen = arrays
        steps, at = [], 0
        for s in range(n_steps):
            n = min(B, N - s * B) + rb
            r = slice(at, at + n)
            at += n
            steps.append((X[r], (Yn[r], Mn[r], Wn[r], Sn[r], Qn[r], cn, 1.0 / T, Gn[:n], cen[r]),
                          G[:n]))
        self._layout = {
            "key": key, "rb": rb, "n_steps": n_steps, "distil": distil, "steps": steps,
            "inc_pos": (~is_rep).nonzero()[:, 0], "rep_pos": is_rep.nonzero()[:, 0],
            "X": X, "Y": Y, "Q": Q, "masks": masks, "ce": ce,
            "Xin": x.new_empty(x.shape) if rb else None, "kernel": replay_grad_kernel}
        return self._layout

    @staticmethod
    def _interleave(a: Tensor, r: Tensor, B: int, rb: int) -> Tensor:
        """Rows of ``a`` (incoming, in step order) and ``r`` (replayed) as the steps take
        them: ``B`` of ``a`` then ``rb`` of ``r`` per step (the last step: the rest of ``a``
        then ``rb`` of ``r``)."""
        N = a.shape[0]
        full = N // B
        out = a.new_empty((N + r.shape[0], *a.shape[1:]))
        head = full * (B + rb)
        o3 = out[:head].view(full, B + rb, *a.shape[1:])
        o3[:, :B] = a[: full * B].view(full, B, *a.shape[1:])
        o3[:, B:] = r[: full * rb].view(full, rb, *a.shape[1:])
        out[head : head + N - full * B] = a[full * B :]
        out[head + N - full * B :] = r[full * rb :]
        return out

    def _replay_rows(self, n_steps: int, rb: int, left: int) -> list[Tensor]:
        """The replayed rows of ``n_steps`` steps (``rb`` each), taken from the pool as
        :meth:`_replay_chunk` would take them step by step (the same refills, the same
        draws), in as few pieces as the refills allow."""
        parts: list[tuple[Tensor, ...]] = []
        s = 0
        while s < n_steps:
            self._refill(rb, left - s)
            k = min(n_steps - s, (self._pool[0].shape[0] - self._pool_at) // rb)
            lo = self._pool_at
            parts.append(tuple(t[lo : lo + k * rb] for t in self._pool))
            self._pool_at += k * rb
            s += k
        if len(parts) == 1:
            return list(parts[0])
        return [torch.cat(ts) for ts in zip(*parts)]

    def _step(self, total: Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        if self.si is not None:
            self.si.before_step()
        self.opt.step()
        if self.si is not None:
            self.si.after_step()

    def end_task(self, task: Task) -> None:
        """Consolidate what the task taught (importance, posterior, generator, teacher)."""
        p = self.p
        m = p.method
        self._layout = None  # the replay buffers of the task
        x = task.x_train[: p.importance_samples]
        if m in ("ewc", "online-ewc"):
            new = fisher_diagonal(self.model, x, mode="sample", generator=self.gen)
            self.importance = combine_maps(
                self.importance, new, decay=p.online_decay if m == "online-ewc" else 1.0,
                anchor="latest" if m == "online-ewc" else "weighted")
        elif m == "mas":
            self.importance = combine_maps(self.importance, mas_importance(self.model, x),
                                           anchor="weighted")
        elif m == "si":
            self.importance = self.si.end_task()
        elif m == "laplace":
            fisher = fisher_diagonal(self.model, x, mode="sample", generator=self.gen)
            self.laplace.consolidate(self.model, fisher, int(task.y_train.numel()))
        elif m == "vcl":
            update_prior(self.model)
        elif m in ("replay", "lwf"):
            if self.generator is not None:
                self.generator.consolidate()
            self.distill.consolidate(self.model, self.seen)
        elif m == "er":
            self._store(task)
        if self.importance is not None:
            self.penalty.update(self.importance)
        self.tasks_done += 1

    def _store(self, task: Task) -> None:
        """Add a random subset of the task to the er buffer, shrinking the older tasks' parts
        so that every task keeps ``buffer_size // tasks`` samples (the first ones get the
        remainder)."""
        keep = torch.randperm(task.y_train.numel(), generator=self.gen)
        self.memory.append((task.x_train[keep], task.y_train[keep]))
        k, size = len(self.memory), self.p.buffer_size
        self.memory = [(mx[: size // k + (i < size % k)], my[: size // k + (i < size % k)])
                       for i, (mx, my) in enumerate(self.memory)]

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def logits(self, x: Tensor) -> Tensor:
        self.model.eval()
        out = torch.cat([self.model(x[i : i + 512]) for i in range(0, x.shape[0], 512)])
        self.model.train()
        return out

    def evaluate(self, tasks: list[Task]) -> tuple[list[float], list[float]]:
        """Class-IL (among the classes seen so far) and task-IL accuracy on every task."""
        seen = sorted(self.seen) if self.seen else list(range(self.n_classes))
        cls, tsk = [], []
        for t in tasks:
            z = self.logits(t.x_test)
            cls.append(accuracy(z, t.y_test, seen))
            tsk.append(accuracy(z, t.y_test, t.classes))
        return cls, tsk

    # ------------------------------------------------------------------ checkpoint state
    def state(self) -> tuple[dict[str, Tensor], dict]:
        """All state as tensors + JSON meta (model, optimizer, method, controller, RNG)."""
        t: dict[str, Tensor] = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        osd = self.opt.state_dict()
        for idx, st in osd["state"].items():
            for key, val in st.items():
                t[f"opt.{idx}.{key}"] = torch.as_tensor(val)
        t["rng"] = self.gen.get_state()
        for name, imp in (self.importance or {}).items():
            t[f"imp.values.{name}"], t[f"imp.anchor.{name}"] = imp.values, imp.anchor
        if self.si is not None:
            t.update({f"si.{k}": v for k, v in self.si.state_tensors().items()})
        if self.laplace is not None:
            for name, imp in self.laplace.posterior.items():
                t[f"lap.values.{name}"], t[f"lap.anchor.{name}"] = imp.values, imp.anchor
        if self.generator is not None:
            t.update({f"gen.{k}": v for k, v in self.generator.state_tensors().items()})
        if self.teacher is not None:
            t.update({f"teacher.{k}": v for k, v in self.teacher.state_dict().items()})
        for i, (mx, my) in enumerate(self.memory):
            t[f"mem.{i}.x"], t[f"mem.{i}.y"] = mx, my
        for i, v in enumerate(self._pool or ()):
            t[f"pool.{i}"] = v
        for k, v in self.controller.state._asdict().items():
            t[f"ctl.{k}"] = v
        vcl = self._vcl_generator()
        if vcl is not None:
            t["vclrng"] = vcl.get_state()
        meta = {
            "seen": self.seen, "tasks_done": self.tasks_done,
            "teacher_classes": self.teacher_classes, "n_train_task": self.n_train_task,
            "alpha_history": self.controller.alpha_history,
            "beta_history": self.controller.beta_history,
            "switch_steps": self.controller.switch_steps,
            "importance_method": (next(iter(self.importance.values())).method
                                  if self.importance else None),
            "joint_tasks": self._joint_ids,
            "pool_at": self._pool_at, "task_epoch": self._task_epoch,
        }
        return t, meta

    def load_state(self, t: Mapping[str, Tensor], meta: Mapping, tasks: list[Task]) -> None:
        from .controller import ControllerState

        self.model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
        osd = self.opt.state_dict()
        state: dict[int, dict] = {}
        for k, v in t.items():
            if k.startswith("opt."):
                _, idx, key = k.split(".", 2)
                state.setdefault(int(idx), {})[key] = v.clone()
        self.opt.load_state_dict({"state": state, "param_groups": osd["param_groups"]})
        self.gen.set_state(t["rng"])
        self.seen = list(meta["seen"])
        self.tasks_done = int(meta["tasks_done"])
        self.distill.classes = list(meta["teacher_classes"])
        self.n_train_task = int(meta["n_train_task"])
        names = [k[len("imp.values."):] for k in t if k.startswith("imp.values.")]
        if names:
            self.importance = {n: Importance(t[f"imp.values.{n}"].clone(),
                                             t[f"imp.anchor.{n}"].clone(),
                                             meta["importance_method"]) for n in names}
            self.penalty.update(self.importance)
        if self.si is not None:
            self.si.load_state_tensors({k[3:]: v for k, v in t.items() if k.startswith("si.")})
        if self.laplace is not None:
            self.laplace.posterior = {
                n: Importance(t[f"lap.values.{n}"].clone(), t[f"lap.anchor.{n}"].clone(),
                              "laplace") for n in self.laplace.posterior}
        if self.generator is not None:
            self.generator.load_state_tensors(
                {k[4:]: v for k, v in t.items() if k.startswith("gen.")})
        if any(k.startswith("teacher.") for k in t):
            teacher = copy.deepcopy(self.model).eval()
            teacher.load_state_dict({k[8:]: v for k, v in t.items() if k.startswith("teacher.")})
            self.distill.consolidate(teacher, self.distill.classes)
        n_mem = sum(1 for k in t if k.startswith("mem.") and k.endswith(".x"))
        self.memory = [(t[f"mem.{i}.x"].clone(), t[f"mem.{i}.y"].clone()) for i in range(n_mem)]
        self.controller.state = ControllerState(
            *[t[f"ctl.{f}"].clone() for f in ControllerState._fields])
        self.controller.alpha_history = list(meta["alpha_history"])
        self.controller.beta_history = list(meta["beta_history"])
        self.controller.switch_steps = list(meta["switch_steps"])
        vcl = self._vcl_generator()
        if vcl is not None:
            vcl.set_state(t["vclrng"])
        self.joint = [(tasks[i].x_train, tasks[i].y_train) for i in meta["joint_tasks"]]
        n_pool = sum(1 for k in t if k.startswith("pool."))
        self._pool = tuple(t[f"pool.{i}"].clone() for i in range(n_pool)) or None
        self._pool_at = int(meta.get("pool_at", 0))
        self._task_epoch = int(meta.get("task_epoch", 0))
        self._joint_ids = list(meta["joint_tasks"])

    def _vcl_generator(self) -> torch.Generator | None:
        """The generator shared by the mean-field layers (one per model)."""
        for m in self.model.modules():
            if isinstance(m, MeanFieldLinear) and m.generator is not None:
                return m.generator
        return None
