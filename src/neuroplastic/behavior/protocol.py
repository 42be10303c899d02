"""Protocols as data: trials, phases and schedules of an animal-learning experiment.

A :class:`Protocol` lists the stimuli and contexts of an experiment and its phases; a
:class:`Phase` repeats a block of :class:`Trial` s (optionally shuffled within each block,
seeded) after an optional retention gap; a :class:`Trial` says which stimuli are present, in
which context, what the outcome is (``outcome`` = the asymptote :math:`\\lambda` the outcome
supports: 1 for a pellet or a shock, 0 for none), how long the stimuli last and how long the
animal waits before the next trial. Everything is checked at construction: an unknown stimulus
or context, a negative duration or an empty schedule raise a ``ValueError`` naming the field.

Example — blocking (Kamin 1969)::

    Protocol(stimuli=("A", "X"), phases=(
        Phase("pretraining", (trial("A+"),), repeats=20),
        Phase("compound", (trial("AX+"),), repeats=20),
        Phase("test", (trial("X", test=True),)),
    ))

Models read a protocol through :meth:`Protocol.schedule` (the trials in order, with onset
times) or :meth:`Protocol.design` (cue matrix, outcomes, contexts, gaps) — no model code
changes for a new experiment.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import NamedTuple

from .._validation import check_finite, check_int, check_nonnegative, check_positive

__all__ = ["Phase", "Protocol", "ScheduledTrial", "trial"]


def _check_names(name: str, names, allow_empty: bool) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, tuple):
        raise ValueError(f"{name} must be a tuple of names, got {names!r}")
    if not names and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    for s in names:
        if not isinstance(s, str) or not s:
            raise ValueError(f"{name} must hold non-empty strings, got {s!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{name} has duplicates: {names!r}")
    return names


@dataclass(frozen=True)
class Trial:
    """One trial: stimuli present together, their context, the outcome and the timing."""

    stimuli: tuple[str, ...] = ()  # names of the stimuli present (may be empty: a blank trial)
    outcome: float = 0.0  # lambda: magnitude of the outcome at the end (0: none)
    context: str = ""  # "" = the protocol's first context
    duration_s: float = 1.0  # how long the stimuli last (s), > 0
    iti_s: float = 60.0  # interval to the next trial's onset after this one ends (s), >= 0
    test: bool = False  # a probe: responses recorded, no learning from the outcome
    modulator: float = 0.0  # release of a modulator at the end (e.g. a noxious tail shock)

    def __post_init__(self) -> None:
        _check_names("stimuli", self.stimuli, allow_empty=True)
        check_finite("outcome", self.outcome)
        if not isinstance(self.context, str):
            raise ValueError(f"context must be a string, got {self.context!r}")
        check_positive("duration_s", self.duration_s)
        check_nonnegative("iti_s", self.iti_s)
        if not isinstance(self.test, bool):
            raise ValueError(f"test must be a bool, got {self.test!r}")
        check_nonnegative("modulator", self.modulator)


def trial(spec: str, **kw) -> Trial:
    """Shorthand of the conditioning literature: ``"AX+"`` = stimuli A and X, outcome 1;
    ``"A-"`` or ``"A"`` = A alone, no outcome. Single-letter stimulus names; keyword arguments
    go to :class:`Trial` (``outcome`` given there overrides the sign)."""
    if not isinstance(spec, str):
        raise ValueError(f"spec must be a string like 'AX+', got {spec!r}")
    body = spec.strip()
    outcome = 0.0
    if body.endswith("+"):
        outcome, body = 1.0, body[:-1]
    elif body.endswith("-"):
        body = body[:-1]
    cues = tuple(c for c in body if not c.isspace())
    kw.setdefault("outcome", outcome)
    return Trial(stimuli=cues, **kw)


@dataclass(frozen=True)
class Phase:
    """A block of trials repeated ``repeats`` times, after a gap of ``gap_s`` seconds."""

    name: str
    trials: tuple[Trial, ...]  # one block
    repeats: int = 1
    shuffle: bool = False  # shuffle the order within each block (seeded by the schedule)
    gap_s: float = 0.0  # retention interval before the phase starts (s)
    context: str = ""  # default context of the phase's trials ("" = protocol default)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.trials, tuple) or not self.trials:
            raise ValueError(f"trials of phase {self.name!r} must be a non-empty tuple "
                             "(empty schedule)")
        for t in self.trials:
            if not isinstance(t, Trial):
                raise ValueError(f"trials of phase {self.name!r} must be Trial objects, got {t!r}")
        check_int("repeats", self.repeats, 1, 10_000_000)
        check_nonnegative("gap_s", self.gap_s)
        if not isinstance(self.context, str):
            raise ValueError(f"context must be a string, got {self.context!r}")


class ScheduledTrial(NamedTuple):
    """A trial in the running order: its phase, onset time and the gap since the last one."""

    phase: str
    index: int  # position in the whole protocol
    trial: Trial
    context: str  # resolved
    onset_s: float
    gap_s: float  # from the end of the previous trial to this onset (inf for the first)


@dataclass(frozen=True)
class Protocol:
    """Stimuli, contexts and phases of an experiment; see the module docstring."""

    stimuli: tuple[str, ...]
    phases: tuple[Phase, ...]
    contexts: tuple[str, ...] = ("A",)

    def __post_init__(self) -> None:
        _check_names("stimuli", self.stimuli, allow_empty=False)
        _check_names("contexts", self.contexts, allow_empty=False)
        if not isinstance(self.phases, tuple) or not self.phases:
            raise ValueError("phases must be a non-empty tuple of Phase (empty schedule)")
        for i, ph in enumerate(self.phases):
            if not isinstance(ph, Phase):
                raise ValueError(f"phases[{i}] must be a Phase, got {ph!r}")
            if ph.context and ph.context not in self.contexts:
                raise ValueError(f"phases[{i}].context: unknown context {ph.context!r} "
                                 f"(contexts: {self.contexts})")
            for j, t in enumerate(ph.trials):
                for s in t.stimuli:
                    if s not in self.stimuli:
                        raise ValueError(f"phases[{i}].trials[{j}].stimuli: unknown stimulus "
                                         f"{s!r} (stimuli: {self.stimuli})")
                if t.context and t.context not in self.contexts:
                    raise ValueError(f"phases[{i}].trials[{j}].context: unknown context "
                                     f"{t.context!r} (contexts: {self.contexts})")
        if self.n_trials > 10_000_000:
            raise ValueError(f"phases: {self.n_trials} trials is too many (> 1e7)")

    @property
    def n_trials(self) -> int:
        return sum(len(ph.trials) * ph.repeats for ph in self.phases)

    def schedule(self, seed: int = 0) -> list[ScheduledTrial]:
        """The trials in running order (shuffled blocks drawn from ``seed``)."""
        rng = random.Random(check_int("seed", seed, 0))
        out: list[ScheduledTrial] = []
        t_end = -math.inf
        pending_gap = 0.0
        for ph in self.phases:
            pending_gap += ph.gap_s
            for _ in range(ph.repeats):
                block = list(ph.trials)
                if ph.shuffle:
                    rng.shuffle(block)
                for tr in block:
                    ctx = tr.context or ph.context or self.contexts[0]
                    onset = 0.0 if not out else t_end + pending_gap
                    gap = math.inf if not out else onset - t_end
                    out.append(ScheduledTrial(ph.name, len(out), tr, ctx, onset, gap))
                    t_end = onset + tr.duration_s
                    pending_gap = tr.iti_s
        return out

    def design(self, seed: int = 0) -> dict:
        """Arrays of the schedule: ``cues`` (n_trials, n_stimuli) 0/1, ``outcome``,
        ``context`` (index), ``gap_s``, ``duration_s``, ``test``, ``modulator``, ``phase``."""
        import numpy as np

        sched = self.schedule(seed)
        cues = np.zeros((len(sched), len(self.stimuli)))
        for k, st in enumerate(sched):
            for s in st.trial.stimuli:
                cues[k, self.stimuli.index(s)] = 1.0
        return {
            "cues": cues,
            "outcome": np.array([st.trial.outcome for st in sched]),
            "context": np.array([self.contexts.index(st.context) for st in sched]),
            "gap_s": np.array([st.gap_s for st in sched]),
            "duration_s": np.array([st.trial.duration_s for st in sched]),
            "test": np.array([st.trial.test for st in sched]),
            "modulator": np.array([st.trial.modulator for st in sched]),
            "phase": [st.phase for st in sched],
        }
