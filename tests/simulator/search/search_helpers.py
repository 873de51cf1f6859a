"""Helpers for the search tests: a small search spec (SmolLM2-135M, 1 layer, edge.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
EDGE = REPO / "hwconfigs" / "edge.yaml"

SEARCH = {
    "trials": 8,
    "seed": 0,
    "sampler": "nsga2",
    "population": 4,
    "objectives": ["total_cycles", "pj_per_token", "area_mm2"],
    "reference": {"total_cycles": 2.0e6, "pj_per_token": 1.0e9, "area_mm2": 2.0},
    "axes": {
        "denser_engine.rows": {"low": 4, "high": 32, "scale": "log", "integer": True},
        "sparser_engine.lines": {"low": 2, "high": 32, "scale": "log", "integer": True},
        "dram.bandwidth_gbps": {"low": 3.2, "high": 51.2, "scale": "log"},
        "rank": {"low": 4, "high": 32, "integer": True},
        "pattern": ["unstructured", "2:4"],
    },
}


def spec_data(**search) -> dict:
    """The small spec as a mapping, its search section updated with `search`."""
    return {"name": "t-search", "hardware": str(EDGE), "model": "smollm2-135m", "layers": 1,
            "fixed": {"phase": "decode", "batch": 1, "ratio": 0.5}, "search": {**SEARCH, **search}}


def write_spec(path: Path, data: dict | None = None, **search) -> Path:
    """Write the small spec (or `data`) to `path`."""
    path.write_text(yaml.safe_dump(data if data is not None else spec_data(**search), sort_keys=False))
    return path


def trial_table(db: Path, name: str = "t-search") -> list[tuple]:
    """(number, state, params, values) of every trial in the study, in trial order."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    return [(t.number, t.state.name, tuple(sorted(t.params.items())), tuple(t.values or ())) for t in study.trials]
