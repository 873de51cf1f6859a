"""Mutated search specs: every one is either accepted (exit 0) or refused in one line with exit
code 2; none raises."""

from __future__ import annotations

import copy
import random

import yaml
from search_helpers import spec_data

from sslcsim.cli import main

VALUES = [None, True, 0, -1, 1, 3, 2.5, 1e308, "x", "", "2:4", [], [1], [[1, 2]], {}, {"low": 1}, {"low": 1, "high": 0},
          {"low": 1, "high": 8, "scale": "log", "integer": True}, {"low": "a", "high": 2}, ["unstructured", "2:4"]]
KEYS = ["trials", "seed", "sampler", "population", "objectives", "reference", "axes", "frontier", "bogus"]
AXIS_KEYS = ["rank", "ratio", "pattern", "batch", "denser_engine.rows", "buffers.weight_kib", "dram.bandwidth_gbps",
             "denser_engine.rows,denser_engine.cols", "technology.node_nm", "split.policy", "nonsense", "rank,"]


def _mutate(rng: random.Random) -> dict:
    data = spec_data()
    sec = data["search"]
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.35:
            sec[rng.choice(KEYS)] = copy.deepcopy(rng.choice(VALUES))
        elif kind < 0.7:
            sec["axes"] = dict(sec["axes"]) if isinstance(sec.get("axes"), dict) else {}
            sec["axes"][rng.choice(AXIS_KEYS)] = copy.deepcopy(rng.choice(VALUES))
        elif kind < 0.85:
            sec.pop(rng.choice(KEYS), None)
        else:
            data[rng.choice(["layers", "fixed", "model", "overrides", "grid"])] = copy.deepcopy(rng.choice(VALUES))
    return data


def test_fuzzed_search_specs(tmp_path, capsys):
    rng = random.Random(21)
    codes = []
    for i in range(150):
        spec = tmp_path / f"f{i}.yaml"
        spec.write_text(yaml.safe_dump(_mutate(rng)))
        code = main(["search", str(spec), "--out", str(tmp_path / "s.db"), "--dry-run"])
        err = capsys.readouterr().err
        assert code in (0, 2), (spec.read_text(), err)
        if code == 2:
            assert err.count("\n") == 1 and err.startswith("sslcsim: error: ") and "Traceback" not in err, err
        codes.append(code)
    assert codes.count(2) > 50 and codes.count(0) > 0  # the mutations reach both outcomes
