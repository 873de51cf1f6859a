"""A seeded fuzz of the inputs a user hands us, run through the CLI entry point in-process:
mutated hardware configs, CLI arguments, `config.json` files, sweep specs, results databases
and compressed artifacts (issue 23: at least 1,000 mutants, under 60 s).

The property, for every mutant: the command ends in exit 0 with sane output (a report whose
numbers are finite, a config that re-validates, a dry run that counts its points), or in
exit 2 with exactly one line on stderr, no traceback, naming the user's own file, key or
path; and a failed run creates or changes nothing (every input and output path is
snapshotted around the run). Each family below is one way a hostile user breaks an input;
issue 23's nine kinds each have a family (kind 2, energy values, is `test_fuzzed_energy_values`).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import sqlite3
from pathlib import Path
from typing import Callable

import pytest
import yaml

from simulator.config import key_defaults, parse_hw
from simulator.program import footprint
from sslcsim.cli import main
from tests.workloads.artifact_fixture import write_artifact
from workloads.limits import MAX_SEED
from workloads.workload import check_phase

ROOT = Path(__file__).resolve().parents[1]
HW_FILE = ROOT / "hwconfigs" / "vitcod.yaml"
HW_TEXT = HW_FILE.read_text()
HW_DOC = yaml.safe_load(HW_TEXT)
TABLE4 = ROOT / "hwconfigs" / "sslc-table4.yaml"
SPEC_TEXT = f"""name: fuzz
hardware: {TABLE4}
model: smollm2-135m
layers: 1
fixed: {{rank: 16, phase: decode}}
grid:
  ratio: [0.4, 0.5]
  sparser_engine.lines: [32, 64]
"""
VALUES = [None, True, False, 0, -1, 1, 2**63, 1e-9, 1e30, float("inf"), "64", "", "x" * 300, [], {}, [1, 2], {"a": 1},
          "\u00e9\u4e2d", 0.5, 7]
EXTREMES = [1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, -0.0, 0, 1, 2**31 - 1, 2**31, 2**63, -(2**63),
            10**23, 10**400, 1e-300, 0.001, 100000, 4096, 4097, 2**20, 65536, 0.5, 3]
HW_KEYS = [k for k, _ in key_defaults()]  # a refusal that names one of these names the user's key
SIMULATE = ["simulate", "--model", "smollm2-135m", "--rank", "16", "--layers", "1"]

# mutants per family; every family runs exactly this many (issue 23: at least 1,000 in all)
SIZES = {"hardware": 400, "mapping_keys": 100, "numeric_extremes": 150, "energy": 30, "seeds": 60,
         "output_paths": 60, "model_sizes": 80, "sweep_specs": 120, "sweep_conflicts": 80, "sweep_limits": 60,
         "results_db": 40, "artifacts": 100, "deep_json": 60}


# ---------------------------------------------------------------- mutations


def _leaves(d: object, path: tuple = ()) -> list[tuple]:
    if isinstance(d, dict):
        return [p for k, v in d.items() for p in _leaves(v, path + (k,))] + ([path] if path else [])
    return [path]


def _get(d: dict, path: tuple) -> object:
    for k in path:
        d = d[k]
    return d


def _set(d: dict, path: tuple, value: object) -> None:
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


def _drop(d: dict, path: tuple) -> None:
    for k in path[:-1]:
        d = d[k]
    del d[path[-1]]


def mutate_yaml(text: str, rng: random.Random) -> bytes:
    """One mutant of a YAML document, as bytes: drop a key, retype a value, push it out of
    range, duplicate a line, break the encoding, truncate, flip bytes."""
    kind = rng.choice(["drop", "retype", "retype", "duplicate", "encoding", "truncate", "flip", "range"])
    if kind in ("encoding", "truncate", "flip"):
        data = bytearray(text.encode())
        if kind == "encoding":
            data[rng.randrange(len(data))] = rng.choice([0xFF, 0xFE, 0xC3, 0x80])
        elif kind == "truncate":
            data = data[:rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    doc = yaml.safe_load(text)
    path = rng.choice(_leaves(doc))
    if kind == "duplicate":
        lines = text.splitlines(keepends=True)
        i = rng.randrange(len(lines))
        return "".join(lines[:i + 1] + [lines[i]] + lines[i + 1:]).encode()
    if kind == "drop":
        _drop(doc, path)
    elif kind == "range":
        _set(doc, path, rng.choice([-1, 0, 10**12, -0.5, 1e-7]))
    else:
        _set(doc, path, rng.choice(VALUES))
    return yaml.safe_dump(doc, allow_unicode=True).encode()


# mapping keys that are not strings (issue 23, kind 1), and string keys that are not keys
BAD_KEYS = ["? [a, b]\n: 1", "? {a: 1}\n: 1", "1: 1", "null: 1", "~: 1", "true: 1", "1.5: 1", "2020-01-01: 1",
            "? !!binary aGk=\n: 1", "? [[x]]\n: 1", "? []\n: 1", "-7: 1", ".inf: 1", "'quoted': 1", "unknown_key: 1"]


def insert_key(doc: dict, rng: random.Random) -> bytes:
    """The block-style dump of `doc` with one BAD_KEYS entry inserted beside a random
    existing key (same indentation: the top level or inside a section)."""
    lines = yaml.safe_dump(doc, sort_keys=False).splitlines()
    i = rng.randrange(len(lines))
    indent = " " * (len(lines[i]) - len(lines[i].lstrip()))
    entry = [indent + part for part in rng.choice(BAD_KEYS).split("\n")]
    return ("\n".join(lines[:i] + entry + lines[i:]) + "\n").encode()


def numeric_leaves(doc: dict) -> list[tuple]:
    return [p for p in _leaves(doc) if isinstance(_get(doc, p), (int, float)) and not isinstance(_get(doc, p), bool)]


def nested(depth: int, rng: random.Random) -> str:
    """A JSON value nested `depth` deep (arrays or objects)."""
    if rng.random() < 0.5:
        return "[" * depth + "1" + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


# ---------------------------------------------------------------- the property


def snapshot(*paths: Path) -> dict:
    """Every file under `paths` (or the path itself) with its bytes; links, FIFOs and
    directories by kind; a missing path as None."""
    out: dict = {}
    for root in paths:
        todo = sorted(root.rglob("*")) if root.is_dir() and not root.is_symlink() else []
        for p in [root, *todo]:
            if p.is_symlink():
                out[str(p)] = ("link", os.readlink(p))
            elif p.is_file():
                out[str(p)] = p.read_bytes()
            elif p.is_dir():
                out[str(p)] = "dir"
            else:
                out[str(p)] = "special" if os.path.lexists(p) else None
    return out


def check(capsys, argv: list, watch: list[Path], names: list[str], sane: Callable[[str], None] | None = None,
          refusal: str | None = None) -> int:
    """Run one mutant; assert the property (module docstring), and that a refusal says
    `refusal` when given; return its exit code."""
    before = snapshot(*watch)
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    captured = capsys.readouterr()
    assert code in (0, 2), (argv, code, captured.err[-2000:])
    assert "Traceback" not in captured.err, (argv, captured.err[-2000:])
    if code == 2:
        assert captured.err.count("\n") == 1 and captured.err.startswith("sslcsim: error:"), (argv, captured.err)
        assert any(n in captured.err for n in names), (argv, captured.err)
        assert refusal is None or refusal in captured.err, (argv, captured.err)
        assert snapshot(*watch) == before, f"{argv}: a refused run created or changed a file"
    elif sane is not None:
        sane(captured.out)
    return code


def _no_constants(name: str) -> float:
    raise AssertionError(f"non-finite number {name} in a report")


def sane_report(path: Path) -> Callable[[str], None]:
    """A simulate report at `path`: valid JSON without NaN/Infinity, positive cycles."""

    def ok(out: str) -> None:
        assert out.strip(), "exit 0 printed nothing"
        report = json.loads(path.read_text(), parse_constant=_no_constants)
        t = report["totals"]
        assert t["total_cycles"] > 0 and t["dense_cycles"] > 0 and math.isfinite(t["speedup"]) and t["speedup"] > 0

    return ok


def sane_hw(out: str) -> None:
    """`hw show` output: a config that validates again, every value as shown."""
    parse_hw(yaml.safe_load(out), "hw show output")


def printed(out: str) -> None:
    assert out.strip(), "exit 0 printed nothing"


def sane_dry_run(out: str) -> None:
    assert re.fullmatch(r".+: \d+ points over axes .+; \d+ to run\n", out), out


@pytest.fixture
def small_cap(monkeypatch):
    """A 16 MiB memory cap: shapes that would take longer than a fuzz allows are refused
    by the footprint check, as issue 23 ran them under an 8 GiB cap."""
    monkeypatch.setattr(footprint, "memory_cap", lambda: (16 << 20, "a 16 MiB test cap"))
    monkeypatch.setattr("simulator.sweep.spec.memory_cap", lambda: (16 << 20, "a 16 MiB test cap"))


def test_the_fuzz_has_at_least_1000_mutants():
    assert sum(SIZES.values()) >= 1000


# ---------------------------------------------------------------- hardware configs


def test_fuzzed_hardware_configs(capsys, tmp_path):
    rng = random.Random(20261130)
    out = tmp_path / "out" / "report.json"
    codes = []
    for i in range(SIZES["hardware"]):
        hw = tmp_path / "hw.yaml"
        hw.write_bytes(mutate_yaml(HW_TEXT, rng))
        if i % 8 == 0:  # a share through a whole (small) simulation, the rest through validation
            codes.append(check(capsys, SIMULATE + ["--hw", hw, "--json", out], [hw, out.parent], [str(hw)] + HW_KEYS,
                               sane_report(out)))
        else:
            codes.append(check(capsys, ["hw", "show", hw], [hw], [str(hw)], sane_hw))
    assert codes.count(2) >= 250 and codes.count(0) >= 20  # mostly broken, some still valid


def test_fuzzed_mapping_keys(capsys, tmp_path):
    """Kind 1: a mapping key that is a list, a mapping, a number, null, a date, binary ...
    anywhere in the config; an unknown string key too."""
    rng = random.Random(1)
    out = tmp_path / "out" / "report.json"
    for i in range(SIZES["mapping_keys"]):
        hw = tmp_path / "hw.yaml"
        hw.write_bytes(insert_key(HW_DOC, rng))
        argv = SIMULATE + ["--hw", hw, "--json", out] if i % 4 == 0 else ["hw", "show", hw]
        assert check(capsys, argv, [hw, out.parent], [str(hw)], refusal="key") == 2


def test_fuzzed_numeric_extremes(capsys, tmp_path):
    """Every numeric key at 1e308, denormals, -0.0, 2^31, 2^63, 10^400 and the edges of its
    range: refused, or accepted with finite results."""
    rng = random.Random(2)
    leaves = numeric_leaves(HW_DOC)
    out = tmp_path / "out" / "report.json"
    codes = []
    for i in range(SIZES["numeric_extremes"]):
        doc = yaml.safe_load(HW_TEXT)
        if i % 3:  # mostly without a technology: its CACTI ranges refuse nearly every buffer extreme
            doc.pop("technology")
        for path in rng.sample([p for p in leaves if p[0] in doc], rng.choice([1, 1, 2])):
            _set(doc, path, rng.choice(EXTREMES))
        hw = tmp_path / "hw.yaml"
        hw.write_text(yaml.safe_dump(doc))
        if i % 3 == 0:
            codes.append(check(capsys, SIMULATE + ["--hw", hw, "--json", out], [hw, out.parent],
                               [str(hw)] + HW_KEYS, sane_report(out)))
        else:
            codes.append(check(capsys, ["hw", "show", hw], [hw], [str(hw)], sane_hw))
    assert codes.count(0) >= 15 and codes.count(2) >= 50  # some extremes are legal: the family reaches both ends


ENERGY_KEYS = ("mac_pj", "idle_mac_pj", "sram_pj_per_byte", "decode_pj", "vector_pj", "dram_pj_per_byte",
               "leakage_mw", "mac_area_um2", "weight_buffer_area_mm2")


def test_fuzzed_energy_values(capsys, tmp_path):
    """Kind 2: energy values at 1e308 and beyond must be refused or give finite energies."""
    rng = random.Random(3)
    base = yaml.safe_load((ROOT / "hwconfigs" / "edge.yaml").read_text())
    out = tmp_path / "out" / "report.json"
    for _ in range(SIZES["energy"]):
        doc = yaml.safe_load(yaml.safe_dump(base))
        doc["energy"] = {}
        for path in rng.sample([("energy", k) for k in ENERGY_KEYS], rng.choice([1, 2, 3])):
            _set(doc, path, rng.choice([1e308, 1.7976931348623157e308, 1e300, 1e30, 0, 5e-324, -1, 10**400, 2.5]))
        hw = tmp_path / "hw.yaml"
        hw.write_text(yaml.safe_dump(doc))
        check(capsys, SIMULATE + ["--hw", hw, "--json", out], [hw, out.parent], [str(hw)], sane_report(out))


# ---------------------------------------------------------------- CLI arguments


SEEDS = [-1, 2**31, 10**23, -(2**63), 2**31 - 1, 0, 12345, "1e3", "0x10", "", "-0"]


def _seed_accepted(seed: object, in_yaml: bool) -> bool:
    """Whether `seed` (as typed on a command line, or into a YAML spec) is a seed in 0..2^31-1:
    '-0' is 0 in both; '0x10' is 16 in YAML but not an integer to argparse."""
    if seed == "-0" or (in_yaml and seed == "0x10"):
        return True
    return isinstance(seed, int) and 0 <= seed <= MAX_SEED


def test_fuzzed_seeds(capsys, tmp_path):
    """Kind 3: every command and spec takes seeds in 0..2^31-1 only (never modulo 2^31), and
    a report records the seed it used."""
    rng = random.Random(4)
    out = tmp_path / "out" / "report.json"
    spec = tmp_path / "spec.yaml"
    for i in range(SIZES["seeds"]):
        seed = rng.choice(SEEDS)
        kind = ("simulate", "generate", "attention", "spec", "random")[i % 5]
        sane: Callable[[str], None] = printed
        if kind == "simulate":
            def sane(text: str, seed=seed) -> None:
                sane_report(out)(text)
                assert json.loads(out.read_text())["provenance"]["workload"]["seed"] == int(seed)
            argv = SIMULATE + ["--hw", HW_FILE, "--seed", seed, "--json", out]
        elif kind == "generate":
            argv = ["generate", "--model", "smollm2-135m", "--hw", TABLE4, "--prompt", "4", "--new-tokens", "2",
                    "--layers", "1", "--rank", "16", "--seed", seed]
        elif kind == "attention":
            argv = ["attention", "--synthetic", "topk", "--layers", "1", "--heads", "1", "--tokens", "8", "--k", "2",
                    "--hw", TABLE4, "--seed", seed]
        else:
            value = "null" if seed == "" else seed
            head = SPEC_TEXT.split("grid:")[0]
            spec.write_text(SPEC_TEXT.replace("phase: decode}", f"phase: decode, seed: {value}}}") if kind == "spec"
                            else head + f"random: {{samples: 2, seed: {value}, axes: {{ratio: [0.4, 0.5]}}}}\n")
            sane, argv = sane_dry_run, ["sweep", spec, "--out", tmp_path / "r.db", "--dry-run"]
        code = check(capsys, argv, [out.parent, tmp_path / "r.db", spec], ["--seed", str(spec)], sane)
        assert code == (0 if _seed_accepted(seed, kind in ("spec", "random")) else 2), argv


def _bad_places(tmp_path: Path) -> list[str]:
    """Output paths a report must never be written to (each refused before any work)."""
    (tmp_path / "a_dir").mkdir(exist_ok=True)
    (tmp_path / "a_file.txt").write_text("precious")
    fifo = tmp_path / "fifo.json"
    if not fifo.exists():
        os.mkfifo(fifo)
    link = tmp_path / "link.json"
    if not link.is_symlink():
        link.symlink_to(tmp_path / "a_file.txt")
    dangling = tmp_path / "dangling.json"
    if not dangling.is_symlink():
        dangling.symlink_to(tmp_path / "nowhere" / "x.json")
    return ["/proc/x.json", "/proc/sslcsim/deeper/x.json", "/sys/x.json", "/dev/null", str(tmp_path / "a_dir"),
            str(tmp_path / "a_file.txt" / "x.json"), str(fifo), str(link), str(dangling),
            str(tmp_path / ("x" * 300 + ".json"))]


def test_fuzzed_output_paths(capsys, tmp_path):
    """Kind 4: --json/--csv/--out at an unwritable or non-file place: refused before any work
    or printing, naming the path as given; a new path under new directories is written."""
    rng = random.Random(5)
    bad = _bad_places(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_TEXT)
    for i in range(SIZES["output_paths"]):
        good = tmp_path / "new" / f"d{i}" / "out.json"
        path = str(good) if i % 6 == 0 else rng.choice(bad)
        command = rng.choice(["simulate", "simulate-csv", "sweep-out", "sweep-csv", "sweep-parquet", "generate",
                              "evaluate"])
        if path == str(good) and command == "evaluate":
            command = "simulate"  # a valid --json would load a real model
        argv = {"simulate": SIMULATE + ["--hw", HW_FILE, "--json", path],
                "simulate-csv": SIMULATE + ["--hw", HW_FILE, "--csv", path],
                "sweep-out": ["sweep", spec, "--out", path, "--dry-run"],
                "sweep-csv": ["sweep", spec, "--out", tmp_path / "r.db", "--csv", path, "--dry-run"],
                "sweep-parquet": ["sweep", spec, "--out", tmp_path / "r.db", "--parquet", path, "--dry-run"],
                "generate": ["generate", "--model", "smollm2-135m", "--hw", TABLE4, "--prompt", "4",
                             "--new-tokens", "2", "--layers", "1", "--rank", "16", "--json", path],
                "evaluate": ["evaluate", "--model", "smollm2-135m", "--json", path]}[command]
        watch = [tmp_path] if path.startswith(str(tmp_path)) else [Path(path), tmp_path]
        code = check(capsys, argv, watch, [path], printed)
        assert code == (0 if path == str(good) else 2), argv
        if code == 0:
            assert good.is_file() or command.startswith("sweep")


def _config(rng: random.Random) -> dict:
    sizes = [64, 128, 576, 1024, 4096, 2**16, 2**20, 2**20 + 1, 0, -1, 1.5, "576", True, None, 10**30]
    heads = [1, 2, 4, 8, 9, 64, 2**16, 2**16 + 1, 0]
    cfg = {"hidden_size": rng.choice(sizes[:7]) if rng.random() < 0.7 else rng.choice(sizes),
           "intermediate_size": rng.choice(sizes[:7]) if rng.random() < 0.7 else rng.choice(sizes),
           "num_attention_heads": rng.choice(heads), "num_hidden_layers": rng.choice([1, 2, 32, 4096, 4097, 0])}
    if rng.random() < 0.5:
        cfg["num_key_value_heads"] = rng.choice(heads)
    if rng.random() < 0.3:
        cfg["head_dim"] = rng.choice([64, 128, 2**20, 2**20 + 1, 0])
    return cfg


def test_fuzzed_model_sizes(capsys, tmp_path, small_cap):
    """Kind 5: config.json sizes up to and past the accepted range (issue 23: hidden_size
    1,048,576): refused up front with the memory needed, or simulated."""
    rng = random.Random(6)
    out = tmp_path / "out" / "report.json"
    codes = []
    for i in range(SIZES["model_sizes"]):
        cfg = tmp_path / f"m{i}" / "config.json"
        cfg.parent.mkdir()
        cfg.write_text(json.dumps(_config(rng) if i else {"hidden_size": 2**20, "intermediate_size": 11008,
                                                          "num_attention_heads": 32, "num_hidden_layers": 2}))
        codes.append(check(capsys, ["simulate", "--model", cfg, "--hw", HW_FILE, "--layers", "1", "--json", out],
                           [cfg.parent, out.parent], [str(cfg)], sane_report(out)))
    assert codes[0] == 2 and codes.count(0) >= 5 and codes.count(2) >= 30


# ---------------------------------------------------------------- sweep specs and results


def test_fuzzed_sweep_specs(capsys, tmp_path):
    rng = random.Random(7)
    db = tmp_path / "sweep.db"
    codes = []
    for _ in range(SIZES["sweep_specs"]):
        spec = tmp_path / "spec.yaml"
        spec.write_bytes(mutate_yaml(SPEC_TEXT, rng))
        codes.append(check(capsys, ["sweep", spec, "--out", db, "--dry-run", "--no-progress"], [tmp_path], [str(spec)],
                           sane_dry_run))
    assert codes.count(2) >= 60


POOL = {"ratio": [0.4, 7], "rank": [8, 16, -1], "seed": [0, 2**31], "phase": ["decode", "train"], "batch": [1, 0],
        "sparser_engine.lines": [32, 64, 5000], "dram.bandwidth_gbps": [10.0, -1.0]}


def test_fuzzed_sweep_conflicts(capsys, tmp_path):
    """Kind 6: a key in both fixed (or overrides) and the grid is refused, whatever the
    values; without a conflict a bad value anywhere is refused naming the spec."""
    rng = random.Random(8)
    spec = tmp_path / "spec.yaml"
    conflicts = codes = 0
    for _ in range(SIZES["sweep_conflicts"]):
        workload = [k for k in POOL if "." not in k]
        fixed = {k: rng.choice(POOL[k]) for k in rng.sample(workload, rng.randint(0, 3))}
        fixed.setdefault("rank", 16) if "rank" not in fixed and rng.random() < 0.8 else None
        overrides = {k: rng.choice(POOL[k]) for k in rng.sample(["sparser_engine.lines", "dram.bandwidth_gbps"],
                                                                 rng.randint(0, 1))}
        grid = {k: [rng.choice(POOL[k])] for k in rng.sample(list(POOL), rng.randint(1, 2))}
        doc = {"name": "c", "hardware": str(HW_FILE), "model": "smollm2-135m", "layers": 1, "fixed": fixed,
               "overrides": overrides, "grid": grid}
        spec.write_text(yaml.safe_dump(doc))
        both = [k for k in grid if k in fixed or k in overrides]
        code = check(capsys, ["sweep", spec, "--out", tmp_path / "r.db", "--dry-run"], [tmp_path], [str(spec)],
                     sane_dry_run, "is given both" if both else None)
        if both:
            assert code == 2
            conflicts += 1
        codes += code == 0
    assert conflicts >= 20 and codes >= 5


def test_fuzzed_sweep_limits(capsys, tmp_path, small_cap):
    """Kind 7: batch, seq and tokens at and past the simulator's bounds: a spec accepts only
    points the simulator itself accepts."""
    rng = random.Random(9)
    spec = tmp_path / "spec.yaml"
    values = [1, 16, 4096, 65536, 65537, 2**20, 2**20 + 1, 2**24, 2**24 + 1]
    codes = []
    for _ in range(SIZES["sweep_limits"]):
        phase = rng.choice(["decode", "prefill"])
        batch, seq = rng.sample(values, 2), rng.sample(values, 2)
        doc = {"name": "l", "hardware": str(TABLE4), "model": "smollm2-135m", "layers": 1,
               "fixed": {"rank": 16, "phase": phase}, "grid": {"batch": batch, "seq": seq}}
        spec.write_text(yaml.safe_dump(doc))
        code = check(capsys, ["sweep", spec, "--out", tmp_path / "r.db", "--dry-run"], [tmp_path], [str(spec)],
                     sane_dry_run)
        if code == 0:  # every point accepted is one the simulator accepts
            for b in batch:
                for s in seq:
                    check_phase(phase, b, s)
        codes.append(code)
    assert codes.count(0) >= 5 and codes.count(2) >= 20


def _database(path: Path, kind: str, rng: random.Random) -> bool:
    """A results database of `kind` at `path`; True when a sweep may resume into it."""
    from simulator.sweep.store import COLUMN_NAMES, Store

    if kind in ("valid", "valid-delete"):
        Store(path).close()
        if kind == "valid-delete":
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA journal_mode=DELETE")
        return True
    if kind == "empty":
        path.write_bytes(b"")
        return True
    if kind == "noise":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.choice([10, 100, 5000]))))
        return False
    if kind == "truncated":
        Store(path).close()
        data = path.read_bytes()
        path.write_bytes(data[:rng.randrange(1, 100)])
        return False
    conn = sqlite3.connect(path)
    if kind == "old-layout":
        cols = rng.sample(COLUMN_NAMES[1:], rng.randrange(len(COLUMN_NAMES) - 1))
        conn.execute(f"CREATE TABLE points (point_hash TEXT PRIMARY KEY{''.join(f', {c!r} TEXT' for c in cols)})")
    else:  # foreign: another application's tables
        conn.execute("CREATE TABLE customers (id INTEGER)")
        if rng.random() < 0.5:
            conn.execute("CREATE TABLE points (point_hash TEXT)")
    conn.commit()
    conn.close()
    return False


def test_fuzzed_results_databases(capsys, tmp_path):
    """Kind 8: `sweep --out` at a database it must refuse (older layout, another
    application's, not SQLite, truncated) leaves every byte as it was, no WAL switch and no
    -wal/-shm file; a dry run changes nothing either."""
    rng = random.Random(10)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_TEXT)
    kinds = ["valid", "valid-delete", "empty", "noise", "truncated", "old-layout", "old-layout", "foreign"]
    for i in range(SIZES["results_db"]):
        d = tmp_path / f"db{i}"
        d.mkdir()
        db = d / "results.db"
        resumable = _database(db, rng.choice(kinds), rng)
        argv = ["sweep", spec, "--out", db, "--no-progress"] + (["--dry-run"] if resumable else [])
        code = check(capsys, argv, [d], [str(db)], sane_dry_run)
        assert code == (0 if resumable else 2)
        if resumable:
            assert not (d / "results.db-wal").exists() or (d / "results.db-wal").stat().st_size == 0


# ---------------------------------------------------------------- artifacts


def _copy_artifact(base: Path, art: Path) -> None:
    art.mkdir()
    for f in base.iterdir():
        (art / f.name).write_bytes(f.read_bytes())


def test_fuzzed_artifacts(capsys, tmp_path):
    rng = random.Random(11)
    base = tmp_path / "base"
    write_artifact(base)
    out = tmp_path / "out" / "report.json"
    codes = []
    for i in range(SIZES["artifacts"]):
        art = tmp_path / f"a{i}"
        _copy_artifact(base, art)
        target = art / rng.choice(["manifest.json", "layer_000.safetensors", "layer_001.safetensors"])
        data = bytearray(target.read_bytes())
        kind = rng.choice(["truncate", "flip", "json"] if target.suffix == ".json" else ["truncate", "flip"])
        if kind == "truncate":
            data = data[:rng.randrange(len(data))]
        elif kind == "flip":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            doc = json.loads(data)
            path = rng.choice(_leaves(doc))
            _set(doc, path, rng.choice(VALUES[:-2]))
            data = bytearray(json.dumps(doc).encode())
        target.write_bytes(bytes(data))
        codes.append(check(capsys, ["simulate", "--artifact", art, "--hw", HW_FILE, "--json", out],
                           [art, out.parent], [str(art)], sane_report(out)))
    assert codes.count(2) >= 80


def test_fuzzed_json_nesting(capsys, tmp_path, monkeypatch):
    """Kind 9: manifest.json and config.json nested up to 100,000 deep, whole or at one
    key: refused before parsing (simulate --artifact, evaluate --artifact before any model
    loads, simulate --model config.json)."""
    import compression.models

    monkeypatch.setattr(compression.models, "load", lambda *a, **k: pytest.fail("evaluate loaded a model"))
    rng = random.Random(12)
    base = tmp_path / "base"
    write_artifact(base)
    manifest = json.loads((base / "manifest.json").read_text())
    for i in range(SIZES["deep_json"]):
        depth = rng.choice([2, 10, 63, 65, 100, 1000, 100000])
        whole = rng.random() < 0.4
        if i % 3 == 2:  # a model config.json
            cfg = tmp_path / f"m{i}" / "config.json"
            cfg.parent.mkdir()
            doc = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_hidden_layers": 2,
                   "rope_scaling": "NEST"}
            cfg.write_text(nested(depth, rng) if whole else json.dumps(doc).replace('"NEST"', nested(depth, rng)))
            check(capsys, ["simulate", "--model", cfg, "--hw", HW_FILE, "--layers", "1", "--rank", "8"],
                  [cfg.parent], [str(cfg)])
            continue
        art = tmp_path / f"a{i}"
        _copy_artifact(base, art)
        doc = json.loads(json.dumps(manifest))
        _set(doc, rng.choice(_leaves(doc)), "NEST")
        text = nested(depth, rng) if whole else json.dumps(doc).replace('"NEST"', nested(depth, rng), 1)
        (art / "manifest.json").write_text(text)
        deep = depth > 64  # refused before parsing whatever it holds: safe to hand to evaluate
        argv = ["evaluate", "--model", "smollm2-135m", "--artifact", art] if deep and i % 2 else \
            ["simulate", "--artifact", art, "--hw", HW_FILE]
        code = check(capsys, argv, [art], [str(art)])
        if deep:
            assert code == 2
