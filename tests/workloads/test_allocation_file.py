"""Per-projection budgets for shape-only runs: the allocation file, and an artifact manifest's allocation."""

from __future__ import annotations

import json

import pytest

from sslcsim.cli import main
from tests.simulator.test_config import HW
from workloads.allocation_file import read_allocation
from workloads.budget import Budget
from workloads.errors import InputError
from workloads.presets import PRESETS
from workloads.workload import from_shape

MODEL = PRESETS["smollm2-135m"]
NAMES = [name for name, _, _, _ in MODEL.projections()]


def _file(tmp_path, layers=2, rank=8, density=0.3, drop=None):
    projs = {f"{layer}.{name}": {"rank": rank, "density": density} for layer in range(layers) for name in NAMES}
    if drop:
        projs.pop(drop)
    p = tmp_path / "alloc.json"
    p.write_text(json.dumps({"projections": projs}))
    return p


def test_allocation_sets_every_projections_rank_and_density(tmp_path):
    alloc = read_allocation(_file(tmp_path, rank=8, density=0.3), MODEL, 2)
    w = from_shape(MODEL, Budget(0.5, None), "decode", 1, 1, 0, 2, alloc)
    for q in w.layer_projections(1):
        assert q.rank == 8 and q.mask.nnz == round(0.3 * q.m * q.n)


def test_a_manifests_allocation_is_accepted(tmp_path):
    m, n = 576, 576  # q_proj
    man = {"allocation": {f"{layer}.self_attn.{name}" if "proj" in name else name: [0, 0]
                          for layer in range(1) for name in NAMES}}
    man["allocation"]["0.self_attn.q_proj"] = [round(0.4 * m * n) + 16 * (m + n), 16]
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(man))
    alloc = read_allocation(p, MODEL, 1)
    assert alloc[(0, "q_proj")] == (16, round(0.4 * m * n) / (m * n))


@pytest.mark.parametrize("edit,needle", [
    (lambda d: d["projections"].pop("1.down_proj"), "'1.down_proj' is missing"),
    (lambda d: d["projections"]["0.q_proj"].update(rank=True), "expected an integer"),
    (lambda d: d["projections"]["0.q_proj"].update(density=1.5), "expected a number in [0.0, 1.0]"),
    (lambda d: d["projections"].update({"0.x_proj": {"rank": 1, "density": 0.1}}), "\"<layer>.<projection>\""),
    (lambda d: d["projections"]["0.k_proj"].update(rank=999), "expected an integer in [0, 192]"),
])
def test_bad_allocation_files(tmp_path, edit, needle):
    p = _file(tmp_path)
    d = json.loads(p.read_text())
    edit(d)
    p.write_text(json.dumps(d))
    with pytest.raises(InputError) as e:
        read_allocation(p, MODEL, 2)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_simulate_with_an_allocation_file_reproduces(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["simulate", "--model", "smollm2-135m", "--layers", "2", "--hw", str(HW / "vitcod.yaml"),
            "--allocation-file", str(_file(tmp_path)), "--json", str(out)]
    assert main(argv) == 0
    assert json.loads(out.read_text())["provenance"]["workload"]["allocation"]["0.q_proj"] == [8, 0.3]
    assert main(["reproduce", "--from", str(out)]) == 0
    assert main(argv[:-2] + ["--artifact", str(tmp_path)]) == 2
