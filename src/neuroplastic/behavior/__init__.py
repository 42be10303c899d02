"""Animal learning: protocol-driven simulations of behaviour on the package's plastic networks.

* :mod:`.protocol` — protocols as data (stimuli, contexts, trials, phases, schedules);
* :mod:`.baselines` — Rescorla–Wagner, TD(λ) on CSC / microstimulus states, Staddon–Higa;
* :mod:`.circuit` — the spiking sensory→response circuit (LIF, two-time-scale depression,
  serotonin-like facilitation, prediction-error-gated three-factor learning, context-gated
  extinction memory);
* :mod:`.habituation`, :mod:`.sensitization`, :mod:`.conditioning`, :mod:`.td_dopamine`,
  :mod:`.avoidance`, :mod:`.schedules` (operant), :mod:`.observational` — the phenomena;
* :mod:`.evolution` — the Baldwin effect and the evolution of a juvenile period.

Nothing is imported eagerly: import the submodule you need.
"""
