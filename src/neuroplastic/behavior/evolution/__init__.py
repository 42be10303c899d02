"""The evolution of learning (issue 15, phenomenon 7); DEAP does the genetic algorithm.

* :mod:`.hinton_nowlan` — Hinton & Nowlan (1987), the Baldwin effect: learnable alleles guide
  evolution to a needle in a haystack (experiment ``baldwin``).
* :mod:`.life_history` — a heritable juvenile period spent learning with the package's
  three-factor rule; it evolves longer for harder skills, to the minimum when nothing can be
  learned (experiment ``juvenile-period``).
* :mod:`.ga` — what both share: DEAP individuals, a private Python random state for DEAP's
  operators (checkpointable), and a worker-count-independent parallel map (processes or Ray).
"""
