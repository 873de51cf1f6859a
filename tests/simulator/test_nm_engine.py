"""The N:M denser engine (simulator/engines/nm.py) and the sparser engine's position cost:
the compressed GEMM's cycles against the dense one's and against real SCALE-Sim 3.0.0 runs
of its own N:M sparsity, which projections run on it, and the refusals."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import yaml

from simulator.config import parse_hw
from simulator.engines.nm import nm_chunk_inputs, nm_compressed_k, nm_inputs
from simulator.schedule.run import run
from workloads.budget import Budget
from workloads.errors import InputError
from workloads.masks import CsrMask
from workloads.presets import PRESETS, ModelShape
from workloads.workload import Projection, Workload, from_shape

from tests.simulator.test_config import HW

REFERENCE = HW.parent / "benchmarks" / "results" / "scalesim_sparse_reference.csv"


def hw_of(kind: str, rows: int, cols: int, dataflow: str = "ws", timing: str = "physical", nm=(2, 4), **more) -> object:
    d = {"name": "nm-test", "clock_mhz": 1000.0,
         "denser_engine": {"kind": kind, "rows": rows, "cols": cols, "dataflow": dataflow, "timing": timing},
         "sparser_engine": {"lines": 4, "macs_per_line": 4}, **more}
    if nm is not None:
        d["denser_engine"]["nm_sparsity"] = {"n": nm[0], "m": nm[1], "index_bits": max(1, math.ceil(math.log2(nm[1])))}
    return parse_hw(d, "nm-test")


def nm_dense_mask(rows: int, K: int, n: int, m: int) -> np.ndarray:
    """The first n positions of every group of m kept (SCALE-Sim's own layer-wise pattern)."""
    keep = np.array([(k % m) < n for k in range(K)])
    return np.tile(keep, (rows, 1))


def one_gemm(tokens: int, K: int, N: int, mask: np.ndarray | None) -> Workload:
    """A decode step of `tokens` tokens through one projection (N outputs, K inputs)."""
    shape = ModelShape("gemm", 8, 8, 1, 1, 1, 8)
    proj = Projection(0, "q_proj", "MHA", N, K, 0, None if mask is None else CsrMask.from_dense(mask))
    return Workload(shape, "decode", tokens, 1, "one gemm", lambda layer: [proj])


def busy(r, part: str) -> int:
    return int(sum(b for b, p in zip(r.op_busy, r.program.op_part) if p == part))


def test_compressed_reduction_and_input_positions_follow_the_groups():
    assert nm_compressed_k(16, 2, 4) == 8 and nm_compressed_k(18, 2, 4) == 10 and nm_compressed_k(17, 2, 4) == 9
    assert nm_compressed_k(70, 3, 8) == 3 * 8 + 3  # 70 = 8 groups of 8, then 6 positions keep 3
    assert nm_inputs(0, 8, 2, 4, 16) == 16 and nm_inputs(1, 2, 2, 4, 16) == 8  # slots 1, 2: groups 0 and 1
    assert nm_inputs(8, 1, 2, 4, 17) == 1  # the last group has one position
    # a group split between two chunks (folds) is read by both
    assert nm_chunk_inputs(0, 6, 3, 2, 4, 12) == nm_inputs(0, 3, 2, 4, 12) + nm_inputs(3, 3, 2, 4, 12) == 16


@pytest.mark.parametrize("kind,rows,cols,dataflow", [
    ("systolic", 16, 8, "ws"), ("systolic", 8, 16, "is"), ("mac_lines", 16, 8, "ws"), ("mac_lines", 32, 4, "ws")])
def test_a_2to4_gemm_takes_exactly_half_the_dense_mac_cycles(kind, rows, cols, dataflow):
    """WS/IS fold the reduction by R and MAC lines step it by H, each fold or step the same
    cycles: with K a multiple of 2 R (2 H) the 2:4 GEMM has exactly half the folds (steps)."""
    hw = hw_of(kind, rows, cols, dataflow)
    for tokens, K, N in ((1, 128, 48), (5, 64, 40), (24, 256, 16)):
        sparse = run(one_gemm(tokens, K, N, nm_dense_mask(N, K, 2, 4)), hw)
        dense = run(one_gemm(tokens, K, N, None), hw)
        assert set(sparse.program.op_part) == {"S_nm", "out"}
        assert 2 * busy(sparse, "S_nm") == busy(dense, "W") > 0


def test_os_streams_the_compressed_reduction():
    """OS streams K through each fold, R + C + K - 2 (+ R drain): the 2:4 GEMM streams K / 2."""
    hw = hw_of("systolic", 8, 8, "os")
    sparse = run(one_gemm(16, 64, 16, nm_dense_mask(16, 64, 2, 4)), hw)
    assert busy(sparse, "S_nm") == 2 * 2 * (2 * 8 + 8 + 32 - 2)


def reference_rows() -> list[dict]:
    with open(REFERENCE) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def test_scalesim_mode_reproduces_scalesim_3_0_0_layerwise_nm_runs():
    """Every SCALE-Sim 3.0.0 run of its layer-wise N:M sparsity (its own example first: 128 x
    128 WS, 3:4 and 1:4 on M, N, K = 3, 5, 16 and 1, 5, 16; then 96 random layers, every
    dataflow): its Total Cycles equal the scalesim-mode N:M engine's busy cycles."""
    rows = reference_rows()
    assert len(rows) >= 90 and {r["dataflow"] for r in rows} == {"ws", "os", "is"}
    for r in rows:
        assert r["stall_cycles"] == "0"  # stall-free: what a compute-only config times
        n, m = (int(x) for x in r["sparsity"].split(":"))
        hw = hw_of("systolic", int(r["R"]), int(r["C"]), r["dataflow"], "scalesim", (n, m))
        M, N, K = int(r["M"]), int(r["N"]), int(r["K"])
        got = run(one_gemm(M, K, N, nm_dense_mask(N, K, n, m)), hw)
        assert busy(got, "S_nm") == int(r["total_cycles"]), r


def test_which_projections_run_on_the_nm_engine():
    hw = hw_of("mac_lines", 16, 4)
    rng = np.random.default_rng(3)
    unstructured = rng.random((16, 32)) < 0.5
    r = run(one_gemm(2, 32, 16, unstructured), hw)  # not 2:4: the column split, as without the N:M engine
    assert "S_nm" not in r.program.op_part and "S_sparse" in r.program.op_part
    w = from_shape(PRESETS["smollm2-135m"], Budget(0.5, 0, 0.0, pattern="2:4"), "decode", 1, 1, 0, layers=1)
    assert {"S_nm"} <= set(run(w, hw).program.op_part)  # a shape-only 2:4 pattern
    plain = hw_of("mac_lines", 16, 4, nm=None)  # no N:M engine: a 2:4 pattern runs on the sparser engine
    assert "S_nm" not in run(w, plain).program.op_part and "S_sparse" in run(w, plain).program.op_part


def test_a_pattern_the_nm_engine_cannot_run_is_refused_in_one_line(tmp_path, capsys):
    from sslcsim.cli import main

    w = from_shape(PRESETS["smollm2-135m"], Budget(0.5, 0, 0.0, pattern="4:8"), "decode", 1, 1, 0, layers=1)
    with pytest.raises(InputError, match=r"--pattern 4:8 cannot run on hwconfig 'nm-test' denser_engine.nm_sparsity 2:4"):
        run(w, hw_of("mac_lines", 16, 4))
    d = yaml.safe_load((HW.parent / "hwconfigs" / "edge-nm.yaml").read_text())
    p = tmp_path / "h.yaml"
    p.write_text(yaml.safe_dump(d))
    assert main(["simulate", "--hw", str(p), "--model", "smollm2-135m", "--layers", "1", "--rank", "0",
                 "--preserve", "0", "--pattern", "4:8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--pattern 4:8 cannot run on hwconfig 'edge-nm'" in err
    # a 1:8 mask keeps at most 1 of every 4 as well: the 2:4 engine runs it
    w = from_shape(PRESETS["smollm2-135m"], Budget(0.5, 0, 0.0, pattern="1:8"), "decode", 1, 1, 0, layers=1)
    assert "S_nm" in run(w, hw_of("mac_lines", 16, 4)).program.op_part


@pytest.mark.parametrize("where,section,words", [
    ("denser_engine", {"n": 4, "m": 4, "index_bits": 2}, "n (4) must be below m (4)"),
    ("denser_engine", {"n": 2, "m": 8, "index_bits": 2}, "needs at least 3"),
    ("denser_engine", {"n": 2, "m": 4}, "nm_sparsity.index_bits': missing required key"),
    ("denser_engine", {"n": 2, "m": 64, "index_bits": 6}, "nm_sparsity.m': must be <= 32"),
    ("sparser_engine", {"n": 2, "m": 4, "index_bits": 2}, "key 'sparser_engine.nm_sparsity': unknown key")])
def test_a_config_asking_for_nm_where_it_cannot_be_is_refused(where, section, words):
    d = yaml.safe_load((HW.parent / "hwconfigs" / "edge.yaml").read_text())
    d[where]["nm_sparsity"] = section
    with pytest.raises(InputError) as e:
        parse_hw(d, "x.yaml")
    assert words in str(e.value) and "\n" not in str(e.value)


def test_position_bytes_move_with_every_sparse_tile():
    """A sparse tile of r x c positions moves ceil(r c position_bytes) more bytes, counted with
    its indices; 0 (the default) changes nothing."""
    rng = np.random.default_rng(5)
    mask = rng.random((24, 40)) < 0.4
    base = {"buffers": {"weight_kib": 1, "input_kib": 1, "output_kib": 1, "index_kib": 0.25},
            "dram": {"bandwidth_gbps": 4.0}}
    plain = run(one_gemm(3, 40, 24, mask), hw_of("mac_lines", 8, 4, nm=None, **base))
    more = hw_of("mac_lines", 8, 4, nm=None, **base)
    more = more.model_copy(update={"sparser_engine": more.sparser_engine.model_copy(update={"position_bytes": 0.3})})
    slow = run(one_gemm(3, 40, 24, mask), more)
    sp = [o for o, p in enumerate(plain.program.op_part) if p == "S_sparse"][0]
    tt, tm, tk = plain.program.op_tile_shape[sp]
    extra = -(-3 // tt) * sum(math.ceil(min(tm, 24 - r) * min(tk, 40 - c) * 0.3)
                              for r in range(0, 24, tm) for c in range(0, 40, tk))
    assert slow.program.op_bytes[sp] - plain.program.op_bytes[sp] == extra > 0
    assert slow.makespan > plain.makespan
