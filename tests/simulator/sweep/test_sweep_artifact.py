"""`model: {artifact: DIR}`: real masks from a compressed artifact; budget axes are rejected."""

from __future__ import annotations

import pytest
from sweep_helpers import HW

from simulator.api import simulate_workloads
from simulator.config import load_hw
from simulator.sweep.executors import LocalExecutor
from simulator.sweep.run import run_sweep
from simulator.sweep.spec import load_spec
from simulator.sweep.store import Store
from tests.workloads.artifact_fixture import write_artifact
from workloads.errors import InputError
from workloads.from_artifact import from_artifact


def test_artifact_sweep_equals_direct_simulation(tmp_path):
    write_artifact(tmp_path / "art")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: a\nhardware: {HW}\nmodel: {{artifact: art}}\n"
                    "grid: {sparser_engine.lines: [16, 64], batch: [1, 4]}\n")
    sweep = load_spec(spec)
    ex = LocalExecutor(1)
    try:
        assert run_sweep(sweep, tmp_path / "a.db", ex, progress=False).ran == 4
    finally:
        ex.close()
    store = Store(tmp_path / "a.db")
    rows = {(r["params"]["sparser_engine.lines"], r["batch"]): r for r in store.rows()}
    store.close()
    base = load_hw(HW)
    for (lines, batch), row in rows.items():
        hw = base.model_copy(update={"sparser_engine": base.sparser_engine.model_copy(update={"lines": lines})})
        comp, dense = from_artifact(tmp_path / "art", "decode", batch, 1)
        report = simulate_workloads(comp, dense, hw)
        assert row["total_cycles"] == report["totals"]["total_cycles"]
        assert row["dense_cycles"] == report["totals"]["dense_cycles"]
        assert row["ratio"] is None and row["model"] == "tiny-llama"


@pytest.mark.parametrize("body, message", [
    ("grid: {ratio: [0.3]}\n", "axes: key 'ratio' does not apply to model.artifact"),
    ("fixed: {rank: 8}\ngrid: {batch: [1]}\n", "fixed: key 'rank' does not apply to model.artifact"),
    ("layers: 1\ngrid: {batch: [1]}\n", "key 'layers': not supported with model.artifact"),
])
def test_artifact_rejects_budget_keys(tmp_path, body, message):
    write_artifact(tmp_path / "art")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: a\nhardware: {HW}\nmodel: {{artifact: art}}\n" + body)
    with pytest.raises(InputError, match=message):
        load_spec(spec)


def test_missing_artifact(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: a\nhardware: {HW}\nmodel: {{artifact: nowhere}}\ngrid: {{batch: [1]}}\n")
    with pytest.raises(InputError, match="nowhere"):
        load_spec(spec)
