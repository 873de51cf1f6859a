"""Multi-objective search over hardware keys and budgets (Optuna samplers, SQLite study).

`spec` (a sweep spec with a `search:` section; points resolved by the sweep's own rules),
`objectives` (what may be optimised, and which way), `hypervolume` (Pareto sets and their
exact hypervolume), `study` (the Optuna study: storage, sampler, resume), `run` (the driver,
on the sweep's executors and worker), `pareto` (the Pareto set: table, re-runnable spec,
re-running a trial), `plot` (the figure).
"""
