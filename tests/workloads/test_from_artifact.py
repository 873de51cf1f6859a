"""Workloads from a compressed artifact: real masks, stored nnz and ranks, layer streaming."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.config import load_hw
from simulator.schedule.run import run
from simulator.memory.buffers import buffer_slots
from simulator.program.build import split_S
from sslcsim.cli import main
from tests.workloads.artifact_fixture import SHAPE, write_artifact
from workloads.errors import InputError
from workloads.from_artifact import from_artifact

HW = Path(__file__).resolve().parents[2] / "hwconfigs"


def test_workload_nnz_and_ranks_equal_the_stored_ones(tmp_path):
    manifest = write_artifact(tmp_path)
    comp, _ = from_artifact(tmp_path, "decode", 3, 1)
    hw = load_hw(HW / "vitcod.yaml")
    slots = buffer_slots(hw, False)
    for entry in manifest["layers"]:
        projs = {q.name: q for q in comp.layer_projections(entry["index"])}
        for p in entry["projections"]:
            q = projs[p["name"].rsplit(".", 1)[-1]]
            assert q.mask.nnz == p["nnz"] and q.rank == p["rank"] and [q.m, q.n] == p["shape"]
            # the statistics the engines see add up to the stored nnz: dense columns + sparse units
            sp = split_S(q, hw, slots, 3)
            assert q.mask.column_counts()[sp.dense].sum() + sp.nnz_sparse == p["nnz"]
    # and the simulated sparse MACs are exactly nnz(sparse columns) x tokens
    r = run(comp, hw)
    names = r.program.op_name
    sparse_macs = sum(int(r.program.op_macs[o]) for o in range(len(names)) if names[o].endswith("S_sparse"))
    expected = 0
    for layer in range(SHAPE.num_layers):
        for q in comp.layer_projections(layer):
            expected += split_S(q, hw, slots, 3).nnz_sparse * 3
    assert sparse_macs == expected


def test_simulate_artifact_cli(tmp_path, capsys):
    write_artifact(tmp_path)
    out = tmp_path / "rep.json"
    assert main(["simulate", "--artifact", str(tmp_path), "--hw", str(HW / "vitcod.yaml"), "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["modules"]["MHA"]["dense_cycles"] > 0 and rep["totals"]["speedup"] > 0
    assert "artifact" in rep["workload"]


def test_artifact_errors(tmp_path, capsys):
    write_artifact(tmp_path / "a")
    hw = str(HW / "vitcod.yaml")
    # another model than --model
    code = main(["simulate", "--artifact", str(tmp_path / "a"), "--model", "smollm2-135m", "--hw", hw])
    err = capsys.readouterr().err
    assert code == 2 and "not --model 'smollm2-135m'" in err and err.count("\n") == 1
    # missing artifact
    code = main(["simulate", "--artifact", str(tmp_path / "nope"), "--hw", hw])
    err = capsys.readouterr().err
    assert code == 2 and "no such manifest" in err
    # a layer file that no longer matches its checksum
    f = tmp_path / "a" / "layer_001.safetensors"
    f.write_bytes(f.read_bytes()[:-8] + b"\0" * 8)
    code = main(["simulate", "--artifact", str(tmp_path / "a"), "--hw", hw])
    err = capsys.readouterr().err
    assert code == 2 and "sha256 mismatch" in err and "layer_001" in err
    # an incomplete artifact
    write_artifact(tmp_path / "b", layers=1)
    with pytest.raises(InputError, match="incomplete"):
        from_artifact(tmp_path / "b")
