"""A seeded fuzz of the inputs a user hands us: mutated hardware configs, sweep specs and
artifact manifests/layer files run through the CLI entry point in-process.

The property, for every mutant: the command either succeeds (the mutant is still valid) or
exits 2 with exactly one line on stderr and no traceback; and it never creates or changes an
output file when it fails. Mutations: drop a key, retype a value, push it out of range,
duplicate a key, break the encoding, truncate, flip bytes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

from sslcsim.cli import main
from tests.workloads.artifact_fixture import write_artifact

ROOT = Path(__file__).resolve().parents[1]
HW_TEXT = (ROOT / "hwconfigs" / "vitcod.yaml").read_text()
SPEC_TEXT = f"""name: fuzz
hardware: {ROOT / "hwconfigs" / "sslc-table4.yaml"}
model: smollm2-135m
layers: 1
fixed: {{rank: 16, phase: decode}}
grid:
  ratio: [0.4, 0.5]
  sparser_engine.lines: [32, 64]
"""
VALUES = [None, True, False, 0, -1, 1, 2**63, 1e-9, 1e30, float("inf"), "64", "", "x" * 300, [], {}, [1, 2], {"a": 1},
          "\u00e9\u4e2d", 0.5, 7]


def _leaves(d: object, path: tuple = ()) -> list[tuple]:
    if isinstance(d, dict):
        return [p for k, v in d.items() for p in _leaves(v, path + (k,))] + ([path] if path else [])
    return [path]


def _set(d: dict, path: tuple, value: object) -> None:
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


def _drop(d: dict, path: tuple) -> None:
    for k in path[:-1]:
        d = d[k]
    del d[path[-1]]


def mutate_yaml(text: str, rng: random.Random) -> bytes:
    """One mutant of a YAML document, as bytes."""
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


def _check(capsys, argv: list[str], out: Path) -> int:
    before = out.read_bytes() if out.exists() else None
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    assert code in (0, 2), (argv, code, captured.err)
    if code == 2:
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, (argv, captured.err)
        after = out.read_bytes() if out.exists() else None
        assert after == before, f"{argv}: a failed run changed {out}"
    return code


def test_fuzzed_hardware_configs(capsys, tmp_path):
    rng = random.Random(20261130)
    out = tmp_path / "report.json"
    codes = []
    for i in range(400):
        hw = tmp_path / "hw.yaml"
        hw.write_bytes(mutate_yaml(HW_TEXT, rng))
        if i % 8 == 0:  # a share through a whole (small) simulation, the rest through validation
            argv = ["simulate", "--model", "smollm2-135m", "--hw", str(hw), "--rank", "16", "--layers", "1",
                    "--json", str(out)]
        else:
            argv = ["hw", "show", str(hw)]
        codes.append(_check(capsys, argv, out))
    assert codes.count(2) >= 250 and codes.count(0) >= 20  # mostly broken, some still valid


def test_fuzzed_sweep_specs(capsys, tmp_path):
    rng = random.Random(7)
    db = tmp_path / "sweep.db"
    codes = []
    for _ in range(120):
        spec = tmp_path / "spec.yaml"
        spec.write_bytes(mutate_yaml(SPEC_TEXT, rng))
        codes.append(_check(capsys, ["sweep", str(spec), "--out", str(db), "--dry-run", "--no-progress"], db))
    assert codes.count(2) >= 60


def test_fuzzed_artifacts(capsys, tmp_path):
    rng = random.Random(11)
    base = tmp_path / "base"
    write_artifact(base)
    out = tmp_path / "report.json"
    hw = str(ROOT / "hwconfigs" / "vitcod.yaml")
    codes = []
    for i in range(100):
        art = tmp_path / f"a{i}"
        art.mkdir()
        for f in base.iterdir():
            (art / f.name).write_bytes(f.read_bytes())
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
        codes.append(_check(capsys, ["simulate", "--artifact", str(art), "--hw", hw, "--json", str(out)], out))
    assert codes.count(2) >= 80
