"""`model: {artifact: DIR}`: real masks from a compressed artifact; budget axes are rejected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sweep_helpers import HW

from simulator.api import simulate_workloads
from simulator.config import load_hw
from simulator.sweep.executors import LocalExecutor
from simulator.sweep.run import run_sweep
from simulator.sweep.spec import load_spec
from simulator.sweep.store import Store
from workloads import artifact
from workloads.errors import InputError
from workloads.from_artifact import from_artifact
from workloads.presets import ModelShape

SHAPE = ModelShape("tiny-llama", 48, 96, 4, 2, 2, 12)
PREFIX = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
          "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def _write_artifact(root: Path) -> None:
    rng = np.random.default_rng(0)
    entries = []
    for layer in range(SHAPE.num_layers):
        tensors, projs = {}, []
        for name, module, m, n in SHAPE.projections():
            full = f"{PREFIX[name]}.{name}"
            mask = rng.random((m, n)) < rng.uniform(0.1, 0.9, n)[None, :]
            values, indices, indptr = artifact.dense_to_csr(rng.standard_normal((m, n)).astype(np.float32), mask)
            tensors.update({f"{full}.U": rng.standard_normal((m, 3)).astype(np.float32),
                            f"{full}.V": rng.standard_normal((3, n)).astype(np.float32),
                            f"{full}.S.values": values, f"{full}.S.indices": indices, f"{full}.S.indptr": indptr,
                            f"{full}.act_norm": np.ones(n, np.float32)})
            projs.append(artifact.projection_entry(full, "attention" if module == "MHA" else "mlp", (m, n), 3,
                                                   int(mask.sum()), 0))
        entries.append(artifact.write_layer(root, layer, tensors, projs))
    artifact.write_manifest(root, {
        "format_version": 1,
        "model": {"id": SHAPE.name, "architecture": "LlamaForCausalLM", "num_layers": SHAPE.num_layers,
                  "hidden_size": SHAPE.hidden_size, "intermediate_size": SHAPE.intermediate_size,
                  "num_attention_heads": SHAPE.num_attention_heads, "num_key_value_heads": SHAPE.num_key_value_heads,
                  "head_dim": SHAPE.head_dim},
        "method": "sslc", "hyperparameters": {"ratio": 0.5}, "seed": 0,
        "calibration": {"text": "test", "samples": 1, "seqlen": 8}, "layers": entries, "complete": True})


def test_artifact_sweep_equals_direct_simulation(tmp_path):
    _write_artifact(tmp_path / "art")
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
    _write_artifact(tmp_path / "art")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: a\nhardware: {HW}\nmodel: {{artifact: art}}\n" + body)
    with pytest.raises(InputError, match=message):
        load_spec(spec)


def test_missing_artifact(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: a\nhardware: {HW}\nmodel: {{artifact: nowhere}}\ngrid: {{batch: [1]}}\n")
    with pytest.raises(InputError, match="nowhere"):
        load_spec(spec)
