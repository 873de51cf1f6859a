"""Issue 23's nine kinds of hostile input, one named regression test each;
tests/test_fuzz_inputs.py runs each kind as a mutation family."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from simulator.program import footprint
from sslcsim.cli import main
from tests.workloads.artifact_fixture import write_artifact
from workloads.limits import MAX_BATCH, MAX_SEED, MAX_SEQ, MAX_TOKENS

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "hwconfigs"
SIMULATE = ["simulate", "--model", "smollm2-135m", "--hw", str(HW / "vitcod.yaml"), "--rank", "16", "--layers", "1"]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys, *argv) -> str:
    """The one-line error of a command that must exit 2 without printing anything else."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (code, out, err)
    return err


def spec_file(tmp_path: Path, body: str, hw: str = "sslc-table4.yaml") -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(f"name: s\nhardware: {HW / hw}\nmodel: smollm2-135m\nlayers: 1\n" + body)
    return p


# ---------------------------------------------------------------- kind 1


def test_kind1_a_list_as_a_mapping_key_is_refused_in_one_line(capsys, tmp_path):
    hw = tmp_path / "hw.yaml"
    hw.write_text((HW / "vitcod.yaml").read_text() + "? [a, b]\n: 1\n")
    for argv in (["hw", "show", hw], SIMULATE[:3] + ["--hw", hw]):
        err = refused(capsys, *argv)
        assert str(hw) in err and "mapping keys must be strings, got a list" in err
    spec = spec_file(tmp_path, "grid:\n  ? {ratio: 1}\n  : [0.5]\n")
    assert "mapping keys must be strings, got a mapping" in refused(capsys, "sweep", spec, "--out", tmp_path / "r.db")
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("key", ["1", "null", "true", "2020-01-01", "1.5"])
def test_kind1_scalar_keys_that_are_not_strings_are_refused(capsys, tmp_path, key):
    hw = tmp_path / "hw.yaml"
    hw.write_text((HW / "vitcod.yaml").read_text() + f"{key}: 1\n")
    assert "mapping keys must be strings" in refused(capsys, "hw", "show", hw)


# ---------------------------------------------------------------- kind 2


def test_kind2_an_energy_value_of_1e308_is_refused_or_gives_finite_energy(capsys, tmp_path):
    doc = yaml.safe_load((HW / "edge.yaml").read_text())
    doc["energy"] = {k: 1e308 for k in ("mac_pj", "sram_pj_per_byte", "dram_pj_per_byte")}
    hw, out = tmp_path / "hw.yaml", tmp_path / "r.json"
    hw.write_text(yaml.safe_dump(doc))
    code, _, _ = run_cli(capsys, *SIMULATE[:3], "--hw", hw, "--rank", "16", "--layers", "1", "--json", out)
    assert code == 2 or "Infinity" not in out.read_text()


# ---------------------------------------------------------------- kind 3


@pytest.mark.parametrize("seed", [-1, 2**31, 10**23])
def test_kind3_seeds_outside_0_to_2_31_are_refused_by_every_command_and_spec(capsys, tmp_path, seed):
    commands = [SIMULATE,
                ["generate", "--model", "smollm2-135m", "--hw", HW / "sslc-table4.yaml", "--prompt", "4",
                 "--new-tokens", "2"],
                ["attention", "--synthetic", "topk", "--layers", "1", "--heads", "1", "--tokens", "8", "--k", "2"],
                ["reproduce", "table4"],
                ["compress", "--model", "smollm2-135m", "--out", tmp_path / "art"]]
    for argv in commands:
        assert f"--seed {seed}: expected an integer in 0..{MAX_SEED}" in refused(capsys, *argv, "--seed", seed)
    for body in (f"fixed: {{rank: 16, seed: {seed}}}\ngrid: {{ratio: [0.5]}}\n",
                 f"fixed: {{rank: 16}}\nrandom: {{samples: 1, seed: {seed}, axes: {{ratio: [0.5]}}}}\n"):
        err = refused(capsys, "sweep", spec_file(tmp_path, body), "--out", tmp_path / "r.db")
        assert "seed'" in err and ("must be >= 0" in err if seed < 0 else f"must be <= {MAX_SEED}" in err)
    assert not (tmp_path / "art").exists() and not (tmp_path / "r.db").exists()


def test_kind3_the_largest_seed_is_used_and_recorded_as_given(capsys, tmp_path):
    reports = []
    for seed in (0, MAX_SEED):
        out = tmp_path / f"{seed}.json"
        assert run_cli(capsys, *SIMULATE, "--seed", seed, "--json", out)[0] == 0
        reports.append(json.loads(out.read_text()))
        assert reports[-1]["provenance"]["workload"]["seed"] == seed
    assert reports[0]["totals"]["total_cycles"] != reports[1]["totals"]["total_cycles"]  # not taken modulo 2^31


# ---------------------------------------------------------------- kind 4


@pytest.mark.parametrize("flag", ["--json", "--csv"])
def test_kind4_an_unwritable_output_is_refused_before_any_table_naming_the_users_path(capsys, flag):
    err = refused(capsys, *SIMULATE, flag, "/proc/x.json")
    assert "/proc/x.json: cannot write an output there" in err and ".tmp" not in err


def test_kind4_a_failure_while_writing_names_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    from simulator.reports import files
    from workloads.errors import InputError

    def full(src, dst):
        raise OSError(28, "No space left on device", src)

    monkeypatch.setattr(files.os, "replace", full)
    target = tmp_path / "r.json"
    with pytest.raises(InputError) as e:
        files.atomic_write(target, "{}")
    assert str(e.value) == f"{target}: writing failed (No space left on device)"
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_kind4_sweep_outputs_are_checked_before_the_spec_runs(capsys, tmp_path):
    spec = spec_file(tmp_path, "fixed: {rank: 16}\ngrid: {ratio: [0.5]}\n")
    for flags in (["--out", "/proc/r.db"], ["--out", tmp_path / "r.db", "--csv", "/proc/r.csv"],
                  ["--out", tmp_path / "r.db", "--parquet", "/proc/r.parquet"]):
        err = refused(capsys, "sweep", spec, *flags)
        assert "/proc/r." in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


# ---------------------------------------------------------------- kind 5


def _config(tmp_path: Path, **sizes) -> Path:
    cfg = {"hidden_size": 1 << 20, "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 2,
           **sizes}
    p = tmp_path / "big" / "config.json"
    p.parent.mkdir(exist_ok=True)
    p.write_text(json.dumps(cfg))
    return p


def test_kind5_hidden_size_2_20_under_an_8_gib_cap_is_refused_with_the_memory_it_needs(capsys, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setattr(footprint, "memory_cap", lambda: (8 << 30, "an 8 GiB test cap"))
    cfg = _config(tmp_path)
    t = time.perf_counter()
    err = refused(capsys, "simulate", "--model", cfg, "--hw", HW / "vitcod.yaml")
    assert time.perf_counter() - t < 10  # refused up front, not after building tiles
    assert str(cfg) in err and "needs at least" in err and "GB of memory" in err and "8.6 GB allowed" in err
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: s\nhardware: {HW / 'vitcod.yaml'}\nmodel: {cfg}\ngrid: {{batch: [1]}}\n")
    assert "point 0 (batch=1)" in refused(capsys, "sweep", spec, "--out", tmp_path / "r.db")


def test_kind5_a_shape_no_machine_holds_is_refused_with_the_real_cap(capsys, tmp_path):
    cfg = _config(tmp_path, intermediate_size=1 << 20)
    err = refused(capsys, "simulate", "--model", cfg, "--hw", HW / "vitcod.yaml", "--phase", "prefill",
                  "--seq", "65536")
    assert "GB of memory" in err
    err = refused(capsys, "generate", "--model", cfg, "--hw", HW / "vitcod.yaml", "--prompt", "65536",
                  "--new-tokens", "1")
    assert "GB of memory" in err


def test_kind5_the_large_model_benchmarks_fit_under_2_gb():
    """benchmarks/bench_memory.py's cases (peaks 0.5 to 1.6 GB measured) stay accepted."""
    from simulator.config import load_hw
    from workloads.presets import ModelShape

    hw = load_hw(HW / "vitcod.yaml")
    cases = [(ModelShape("llama-3-70b", 8192, 28672, 64, 8, 80, 128), 8192, "projections"),
             (ModelShape("llama-3-70b", 8192, 28672, 64, 8, 80, 128), 8192, "layer"),
             (ModelShape("405b-shaped", 16384, 53248, 128, 8, 126, 128), 2048, "projections")]
    for model, seq, scope in cases:
        assert footprint.simulation_bytes(model, hw, "prefill", 1, seq, scope) < 2e9
        footprint.check_footprint("bench", model, hw, "prefill", 1, seq, scope, cap=(2 << 30, "2 GiB"))


@pytest.mark.parametrize("name", ["vitcod", "vitcod-compat", "edge", "datacenter", "sslc-table4"])
def test_kind5_the_estimate_is_a_lower_bound_of_the_tiles_built(name):
    from simulator.config import load_hw
    from simulator.program.build import build_program
    from workloads.presets import PRESETS
    from workloads.workload import from_shape

    hw = load_hw(HW / f"{name}.yaml")
    model = PRESETS["smollm2-135m"]
    for phase, seq, scope in (("decode", 1, "projections"), ("prefill", 256, "projections"), ("prefill", 200, "layer")):
        tiles: list[int] = []
        workload = from_shape(model, None, phase, 2, seq, 0, 1).with_scope(scope)
        build_program(workload, hw, lambda prog, lo: tiles.append(prog.n_tiles))
        tokens = 2 * seq if phase == "prefill" else 2
        bound = footprint.dense_layer_tiles(model, hw, tokens)
        if scope == "layer":
            bound += footprint.attention_tiles(model, hw, phase, 2, seq, 0)
        assert 0 < bound <= max(tiles), (phase, scope, bound, tiles)


# ---------------------------------------------------------------- kinds 6 and 7


def test_kind6_a_key_in_both_fixed_and_the_grid_is_refused(capsys, tmp_path):
    spec = spec_file(tmp_path, "fixed: {rank: 16, ratio: 7}\ngrid: {ratio: [0.5]}\n")
    err = refused(capsys, "sweep", spec, "--out", tmp_path / "r.db")
    assert str(spec) in err and "key 'ratio' is given both in fixed and as an axis" in err
    spec = spec_file(tmp_path, "fixed: {rank: 16}\noverrides: {sparser_engine.lines: 64}\n"
                               "list: [{sparser_engine.lines: 32}]\n")
    assert "key 'sparser_engine.lines' is given both in overrides" in refused(capsys, "sweep", spec, "--out",
                                                                              tmp_path / "r.db")
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("body, words", [
    ("fixed: {rank: 16, phase: prefill}\ngrid: {seq: [16, 1048577]}\n", "point 1 (seq=1048577): key 'seq'"),
    ("fixed: {rank: 16}\ngrid: {batch: [1, 65537]}\n", "point 1 (batch=65537): key 'batch'"),
    ("fixed: {rank: 16, phase: prefill, seq: 1048576}\ngrid: {batch: [16, 17]}\n",
     "point 1 (batch=17): keys 'batch' x 'seq'"),
])
def test_kind7_a_point_the_simulator_would_refuse_is_refused_before_any_work(capsys, tmp_path, body, words):
    spec = spec_file(tmp_path, body)
    assert words in refused(capsys, "sweep", spec, "--out", tmp_path / "r.db")
    assert not (tmp_path / "r.db").exists()


def test_kind7_spec_bounds_are_the_simulators():
    from simulator.sweep.spec import WorkloadPoint

    def upper(name: str) -> int:
        return next(m.le for m in WorkloadPoint.model_fields[name].metadata if hasattr(m, "le"))

    assert (upper("batch"), upper("seq"), upper("seed")) == (MAX_BATCH, MAX_SEQ, MAX_SEED)
    assert MAX_TOKENS == 1 << 24


# ---------------------------------------------------------------- kind 8


def test_kind8_an_older_results_database_is_refused_byte_for_byte_unchanged(capsys, tmp_path):
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE points (point_hash TEXT PRIMARY KEY, sweep TEXT)")
    before = db.read_bytes()
    assert before[18:20] == b"\x01\x01"  # a rollback-journal file: WAL would make these 2, 2
    spec = spec_file(tmp_path, "fixed: {rank: 16}\ngrid: {ratio: [0.5]}\n")
    for extra in ([], ["--dry-run"]):
        err = refused(capsys, "sweep", spec, "--out", db, "--no-progress", *extra)
        assert f"{db}: sweep results table has an older layout" in err
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db", "spec.yaml"]  # no -wal, no -shm


def test_kind8_a_dry_run_leaves_a_results_database_unchanged(capsys, tmp_path):
    from simulator.sweep.store import Store

    db = tmp_path / "r.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    before = db.read_bytes()
    spec = spec_file(tmp_path, "fixed: {rank: 16}\ngrid: {ratio: [0.5]}\n")
    code, out, _ = run_cli(capsys, "sweep", spec, "--out", db, "--dry-run")
    assert code == 0 and out.endswith("1 to run\n")
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["r.db", "spec.yaml"]


# ---------------------------------------------------------------- kind 9


@pytest.fixture
def no_model_loads(monkeypatch):
    import compression.models

    monkeypatch.setattr(compression.models, "load", lambda *a, **k: pytest.fail("evaluate loaded a model"))


def test_kind9_a_manifest_nested_100000_deep_is_refused_before_parsing(capsys, tmp_path, no_model_loads):
    write_artifact(tmp_path / "art")
    manifest = tmp_path / "art" / "manifest.json"
    manifest.write_text("[" * 100_000 + "]" * 100_000)
    for argv in (["simulate", "--artifact", tmp_path / "art", "--hw", HW / "vitcod.yaml"],
                 ["evaluate", "--model", "smollm2-135m", "--artifact", tmp_path / "art"]):
        err = refused(capsys, *argv)
        assert f"{manifest}: artifact manifest is nested 100000 deep, more than the 64" in err


def test_kind9_a_config_json_nested_deep_is_refused_before_parsing(capsys, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"hidden_size": 64, "rope_scaling": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}")
    assert f"{cfg}: model config is nested 5001 deep" in refused(capsys, "simulate", "--model", cfg, "--hw",
                                                                   HW / "vitcod.yaml")


def test_evaluate_checks_the_artifact_and_its_output_before_loading_the_model(capsys, tmp_path, no_model_loads):
    write_artifact(tmp_path / "art")
    os.unlink(tmp_path / "art" / "layer_001.safetensors")
    os.mkfifo(tmp_path / "art" / "layer_001.safetensors")
    assert "layer 1 is not a regular file" in refused(capsys, "evaluate", "--model", "smollm2-135m",
                                                      "--artifact", tmp_path / "art")
    assert "no such manifest" in refused(capsys, "evaluate", "--model", "smollm2-135m", "--artifact", tmp_path)
    assert "/proc/e.json" in refused(capsys, "evaluate", "--model", "smollm2-135m", "--json", "/proc/e.json")
