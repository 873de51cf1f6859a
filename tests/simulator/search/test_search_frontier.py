"""search.frontier: a search over a frontier's artifacts, with their measured perplexity as an objective."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from search_helpers import EDGE

from simulator.search.pareto import pareto, require_study, results
from simulator.search.spec import load_search
from simulator.sweep.spec import load_spec
from sslcsim.cli import main
from sslcsim.frontier.store import FrontierStore
from tests.workloads.artifact_fixture import write_artifact
from workloads.errors import InputError

PERPLEXITY = {"sslc-0.5": 14.25, "sslc-0.3": 31.5}


def _frontier(root: Path) -> Path:
    """A frontier output directory: two finished artifacts, a failed point and the dense row."""
    for seed, label in enumerate(PERPLEXITY):
        write_artifact(root / "artifacts" / label, seed=seed)
    store = FrontierStore(root / "frontier.db")
    for label, ppl in PERPLEXITY.items():
        store.insert({"key": f"k-{label}", "label": label, "method": "sslc", "ratio": 0.5, "status": "ok",
                      "perplexity": ppl})
    store.insert({"key": "k-bad", "label": "bad", "method": "sslc", "ratio": 0.1, "status": "error", "error": "x"})
    store.insert({"key": "dense", "label": "dense", "method": "dense", "ratio": 1.0, "status": "ok", "perplexity": 10.0})
    store.close()
    return root


def _spec(tmp_path: Path, **extra) -> Path:
    data = {"name": "fr", "hardware": str(EDGE), "fixed": {"phase": "decode", "batch": 1},
            "search": {"trials": 6, "sampler": "random", "objectives": ["total_cycles", "perplexity"],
                       "reference": {"total_cycles": 1.0e7, "perplexity": 100.0}, "frontier": "fr-out",
                       "axes": {"dram.bandwidth_gbps": {"low": 3.2, "high": 51.2, "scale": "log"}}}, **extra}
    path = tmp_path / "fr.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_frontier_search_minimises_measured_perplexity(tmp_path):
    _frontier(tmp_path / "fr-out")
    spec = _spec(tmp_path)
    search = load_search(spec)
    assert search.axes[-1].name == "artifact" and search.axes[-1].choices == tuple(sorted(PERPLEXITY))
    db = tmp_path / "fr.db"
    assert main(["search", str(spec), "--out", str(db), "--workers", "1", "--no-progress", "--formats", "png"]) == 0
    trials = results(require_study(search, db))
    assert len(trials) == 6
    for t in trials:
        assert t.values[1] == PERPLEXITY[t.params["artifact"]]
    front = pareto(search, trials)
    report = tmp_path / "fr-pareto"
    for label in {t.params["artifact"] for t in front}:  # one re-run spec per artifact, same point keys
        sweep = load_spec(report / f"pareto-sweep-{label}.yaml")
        assert [p.key for p in sweep.points] == [t.provenance["point_key"] for t in front
                                                 if t.params["artifact"] == label]


@pytest.mark.parametrize("extra, search_extra, needle", [
    ({"model": "smollm2-135m"}, {}, "takes the model from them; leave model out"),
    ({"fixed": {"ratio": 0.5}}, {}, "fixed: key 'ratio' does not apply to model.artifact"),
    ({}, {"frontier": "nowhere"}, "frontier.db not found"),
])
def test_frontier_spec_errors(tmp_path, extra, search_extra, needle):
    _frontier(tmp_path / "fr-out")
    spec = _spec(tmp_path, **extra)
    if search_extra:
        data = yaml.safe_load(spec.read_text())
        data["search"].update(search_extra)
        spec.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=needle):
        load_search(spec)
