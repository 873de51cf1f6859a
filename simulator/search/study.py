"""The search's Optuna study: its SQLite storage, sampler, search space, and the trial states
that make a killed search resume without losing or repeating a trial.

States: COMPLETE (simulated; objective values), PRUNED (infeasible: the simulator refused the
point; the reason in the trial's `error` attribute), both counted against the trial budget;
FAIL (interrupted: a trial left RUNNING by a killed driver, marked so when the search resumes),
not counted. One driver at a time holds a study database (an exclusive lock on the file, which
the operating system drops when the process dies, however it dies).
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import warnings
from pathlib import Path
from typing import IO, Any

from simulator.search.spec import Search
from workloads.errors import InputError

COUNTED = ("COMPLETE", "PRUNED")
# Optuna's tables (RDBStorage schema): a study database holds these and nothing else.
_OPTUNA_TABLES = {"alembic_version", "studies", "study_directions", "study_system_attributes", "study_user_attributes",
                  "trial_heartbeats", "trial_intermediate_values", "trial_params", "trial_system_attributes",
                  "trial_user_attributes", "trial_values", "trials", "version_info"}


def distributions(search: Search) -> dict[str, Any]:
    """The Optuna distribution of each axis, by axis name."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for a in search.axes:
        if a.choices is not None:
            out[a.name] = CategoricalDistribution(a.labels())
        elif a.integer:
            out[a.name] = IntDistribution(int(a.low), int(a.high), log=a.log)
        else:
            out[a.name] = FloatDistribution(a.low, a.high, log=a.log)
    return out


def space_digest(search: Search) -> dict[str, Any]:
    """What must not change between runs into one study: the sweep part, the axes and the
    objectives (the trial budget, sampler and reference point may)."""
    axes = [{"name": a.name, "choices": a.choices, "low": a.low, "high": a.high, "log": a.log, "integer": a.integer}
            for a in search.axes]
    space = {"sweep": search.sweep, "axes": axes, "objectives": [o.name for o in search.objectives]}
    return json.loads(json.dumps(space, sort_keys=True, default=str))


def sampler(search: Search, started: int) -> Any:
    """The spec's sampler. Its seed is the spec's plus the trials the study already holds: a
    fresh study is reproducible from the seed, and a resumed one does not draw its first
    trials again (a sampler's random state is not stored)."""
    import optuna

    seed = (search.seed + started) % 2**32
    if search.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=search.population or 50)
    if search.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    return optuna.samplers.RandomSampler(seed=seed)


def refuse_foreign(path: Path) -> None:
    """InputError unless an existing non-empty file is an Optuna database (checked read-only,
    so a sweep's or any other database is left as it was)."""
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a search study database ({exc})") from None
    if not {"studies", "trials"} <= tables or not tables <= _OPTUNA_TABLES:
        raise InputError(f"{path}: an SQLite database that is not a search study (tables "
                         f"{', '.join(sorted(tables)) or 'none'}); write the search to a new --out")


def storage(path: Path, create: bool = True) -> Any:
    """Optuna's SQLite storage of the study file, in WAL mode with synchronous=NORMAL: a
    commit appends to the log without waiting for the disk (a driver killed at any moment,
    SIGKILL included, keeps every committed trial; a power cut may lose the last few, never
    the database's consistency). Optuna commits every suggested parameter and attribute on
    its own, about 20 a trial: with the default rollback journal and a flush each, they took
    half of a search's wall time."""
    import optuna

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    return optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}", engine_kwargs={"creator": connect},
                                      skip_table_creation=not create)


def lock(path: Path) -> IO[bytes]:
    """An exclusive lock on the study file, held until the returned file is closed."""
    fh = open(path, "ab")  # creates an empty file for a new study; nothing is ever written through it
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise InputError(f"{path}: another sslcsim search is running on this study; wait for it or use another --out")
    return fh


def open_study(search: Search, db: str | Path) -> tuple[Any, IO[bytes]]:
    """The study named after the spec in `db` (created, or loaded to resume) and the lock held
    on it; InputError when the file is not a study database or its study searches another space."""
    import optuna

    path = Path(db)
    if "?" in str(path) or "#" in str(path):
        raise InputError(f"{path}: a study path may not contain '?' or '#' (the SQLite URL would cut it)")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise InputError(f"{path}: not a regular file")
    if path.exists() and path.stat().st_size > 0:
        refuse_foreign(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    held = lock(path)
    try:
        study = _load(search, storage(path), path)
    except BaseException:
        held.close()
        raise
    return study, held


def _load(search: Search, storage: Any, path: Path) -> Any:
    import optuna

    directions = ["maximize" if o.maximise else "minimize" for o in search.objectives]
    names = [s.study_name for s in storage.get_all_studies()]
    started = 0
    if search.name in names:
        started = len(optuna.load_study(study_name=search.name, storage=storage).get_trials(deepcopy=False))
    study = optuna.create_study(study_name=search.name, storage=storage, directions=directions,
                                sampler=sampler(search, started), load_if_exists=True)
    space = space_digest(search)
    stored = study.user_attrs.get("space")
    if stored is None:
        study.set_user_attr("space", space)
        with warnings.catch_warnings():  # experimental since Optuna 3.2; names the objectives in the dashboard
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([o.name for o in search.objectives])
    elif stored != space:
        raise InputError(f"{path}: study '{search.name}' was started with another sweep part, axes or objectives; "
                         "search that space into a new --out (or rename the spec)")
    return study


def fail_interrupted(study: Any) -> int:
    """Mark every trial left RUNNING (by a driver that was killed) as FAIL; their points are
    drawn again by the sampler. Returns how many. Safe because the caller holds the lock."""
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in running:
        study.tell(t.number, state=TrialState.FAIL)
    return len(running)


def counted(study: Any) -> list[Any]:
    """The trials that count against the budget: simulated (COMPLETE) and infeasible (PRUNED)."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))

