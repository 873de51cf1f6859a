"""Attention-map masks in the physical mode (simulator/program/layer_ops.py): the per-head SDDMM /
softmax / SpMM ops, their cycles on a hand-checked case, the attention-core-only workload
against the golden reference, and bad masks as one-line InputErrors."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.config import parse_hw
from simulator.schedule.run import run
from tests.golden import reference
from tests.simulator.test_golden import random_attention_masks, random_hw
from workloads.attention_masks import attention_core_workload
from workloads.errors import InputError
from workloads.presets import ModelShape
from workloads.workload import Projection, Workload

BASE = {
    "name": "t", "clock_mhz": 500.0,
    "denser_engine": {"kind": "mac_lines", "rows": 4, "cols": 4},
    "sparser_engine": {"lines": 1, "macs_per_line": 2, "mapping": "token_parallel", "format": "csc"},
    "split": {"policy": "fixed", "density_threshold": 1.0},
}


def hw_with(**over) -> object:
    cfg = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for key, value in over.items():
        section, name = key.split("__")
        cfg[section][name] = value
    return parse_hw(cfg, "test")


def ops_of(r) -> dict[str, int]:
    """Attention-core op name -> compute cycles."""
    p = r.program
    return {n.split(".", 2)[2]: int(r.op_busy[i]) for i, n in enumerate(p.op_name) if p.op_proj[i] == "attn_core"}


MASK = np.array([[1, 0, 0, 0],
                 [1, 1, 0, 0],
                 [1, 1, 1, 0],
                 [1, 0, 1, 1]], bool)  # column counts 4, 2, 2, 1; 9 kept scores


def test_sparse_sddmm_and_spmm_cycles_follow_the_two_mappings():
    """One head, D = 3, one sparser line of P = 2 MACs, threshold 1 (no dense column), CSC
    (a unit is a key column): token-parallel costs nnz ceil(D / P) = 9 x 2, non-zero-parallel
    sum over columns of ceil(count / P) D = (2 + 1 + 1 + 1) x 3; softmax 9 scores x 3 passes
    / 64 lanes + 8 latency."""
    w = attention_core_workload(MASK[None, None], 3)
    assert ops_of(run(w, hw_with(sparser_engine__mapping="token_parallel"))) == {
        "qk_sparse.h0": 18, "softmax.h0": 9, "pv_sparse.h0": 18, "out": 0}
    assert ops_of(run(w, hw_with(sparser_engine__mapping="nnz_parallel"))) == {
        "qk_sparse.h0": 15, "softmax.h0": 9, "pv_sparse.h0": 15, "out": 0}


def test_dense_columns_run_on_the_denser_engine_with_their_zeros():
    """Threshold 0.6: only key 0 (4 of 4 queries) is dense. Its SDDMM is a 4 x 3 by 3 x 1
    GEMM, its SpMM 4 x 1 by 1 x 3 (MACs count the zeros of a dense column); the sparse part
    has the other 5 kept scores."""
    r = run(attention_core_workload(MASK[None, None], 3), hw_with(split__density_threshold=0.6))
    p = r.program
    macs = {n.split(".", 2)[2]: int(m) for n, m, pr in zip(p.op_name, p.op_macs, p.op_proj)
            if pr == "attn_core"}
    assert macs == {"qk_dense.h0": 12, "qk_sparse.h0": 15, "softmax.h0": 0, "pv_dense.h0": 12,
                    "pv_sparse.h0": 15, "out": 0}
    engines = {n.split(".", 2)[2]: e for n, e, pr in zip(p.op_name, p.op_engine, p.op_proj) if pr == "attn_core"}
    assert engines["qk_dense.h0"] == engines["pv_dense.h0"] == 0
    assert engines["qk_sparse.h0"] == engines["pv_sparse.h0"] == 1


def test_shared_width_splits_each_heads_lines_by_its_own_dense_ratio():
    """Head 0 all dense except one column, head 1 all sparse: dw = int(W N gt / (N gt + nnz))."""
    heads = np.zeros((2, 8, 8), bool)
    heads[0, :, :7] = True
    heads[0, 0, 7] = True
    heads[1, np.arange(8), np.arange(8)] = True
    hw = parse_hw({"name": "s", "clock_mhz": 500.0,
                   "denser_engine": {"kind": "mac_lines", "rows": 4, "cols": 8},
                   "sparser_engine": {"lines": 8, "macs_per_line": 4},
                   "split": {"policy": "shared_width", "density_threshold": 0.5}}, "test")
    r = run(attention_core_workload(heads[None], 4), hw)
    p = r.program
    lines = {n.split(".", 2)[2]: m // 4 for n, m, pr in zip(p.op_name, p.op_engine_macs, p.op_proj)
             if pr == "attn_core" and "_" in n.split(".", 2)[2]}
    dw0 = int(8 * 56 / (56 + 1))  # 7 dense keys x 8 queries against 1 sparse kept score
    assert lines == {"qk_dense.h0": dw0, "qk_sparse.h0": 8 - dw0, "pv_dense.h0": dw0, "pv_sparse.h0": 8 - dw0,
                     "qk_sparse.h1": 8, "pv_sparse.h1": 8}  # no dense key: every line is sparse


def golden_core(masks: np.ndarray, head_dim: int) -> tuple[list, dict]:
    """The golden reference's inputs for attention_core_workload(masks, head_dim)."""
    layers, heads, n, _ = masks.shape
    shape = ModelShape("g", heads * head_dim, heads * head_dim, heads, heads, layers, head_dim)
    projs = [[{"name": name, "module": mod, "m": 0, "n": 0, "rank": 0, "mask": None}
              for name, mod, _, _ in shape.projections()] for _ in range(layers)]
    layer = {"heads": heads, "kv_heads": heads, "head_dim": head_dim, "hidden": heads * head_dim,
             "inter": heads * head_dim, "phase": "prefill", "batch": 1, "seq": n, "context": 0, "masks": list(masks)}
    return projs, layer


def test_attention_core_workload_equals_the_golden_reference():
    """The physical mode's workload (empty projections, masked attention per head) is
    scheduled as the golden reference steps it, tile for tile."""
    rng, ran = np.random.default_rng(5), 0
    while ran < 12:
        try:
            hw = parse_hw(random_hw(rng), "golden")
        except InputError:
            continue
        heads, n, d = int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(2, 7))
        masks = np.stack(random_attention_masks(rng, int(rng.integers(1, 3)), heads, n))
        try:
            fast = run(attention_core_workload(masks, d), hw, record_tiles=True)
        except InputError:  # a buffer too small for the smallest tile
            continue
        projs, layer = golden_core(masks, d)
        ops = reference.build(hw, projs, n, True, layer)
        gold = reference.run(hw, ops)
        keys = [(o, k) for o, op in enumerate(ops) for k in range(len(op["tiles"]))]
        assert [t for op in ops for t in op["tiles"]] == list(zip(*(fast.arrays[k].tolist() for k in (
            "tile_bytes", "tile_cycles", "tile_weight_bytes"))))
        assert [gold["end"][k] for k in keys] == list(fast.tile_end)
        assert [gold["op_done"][o] for o in range(len(ops))] == list(fast.op_done)
        ran += 1


def test_layers_run_one_after_another_in_the_attention_core_workload():
    """Empty projections forward their inputs: layer 1's attention waits for layer 0's."""
    masks = np.ones((2, 1, 6, 6), bool)
    r = run(attention_core_workload(masks, 4), hw_with())
    p = r.program
    first = {n: int(r.op_first[i]) for i, n in enumerate(p.op_name)}
    done = {n: int(r.op_done[i]) for i, n in enumerate(p.op_name)}
    assert first["L1.attn_core.qk_sparse.h0"] >= done["L0.attn_core.out"]


def masked_workload(masks, phase="prefill", seq=4) -> Workload:
    shape = ModelShape("m", 8, 8, 2, 1, 1, 4)

    def layer_projections(layer: int) -> list[Projection]:
        return [Projection(layer, name, mod, m, n, 0, None) for name, mod, m, n in shape.projections()]

    return Workload(shape, phase, 1, seq, "m", layer_projections, "layer", 0, masks)


@pytest.mark.parametrize("masks,phase,needle", [
    (lambda layer: np.ones((2, 4, 4), bool), "decode", "apply to prefill only"),
    (lambda layer: np.ones((2, 4, 5), bool), "prefill", "expected a bool array of shape (heads, seq, seq) = (2, 4, 4)"),
    (lambda layer: np.ones((1, 4, 4), bool), "prefill", "got bool array of shape (1, 4, 4)"),
    (lambda layer: np.ones((2, 4, 4), np.int8), "prefill", "got int8 array"),
    (lambda layer: [[True]], "prefill", "got list"),
])
def test_bad_masks_are_one_line_input_errors(masks, phase, needle):
    with pytest.raises(InputError) as e:
        run(masked_workload(masks, phase, 1 if phase == "decode" else 4), hw_with())
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_with_scope_keeps_the_masks_and_the_projection_scope_ignores_them():
    masks = lambda layer: np.ones((2, 4, 4), bool)  # noqa: E731
    w = masked_workload(masks).with_scope("projections")
    assert w.attention_masks is masks and w.with_scope("layer").attention_masks is masks
    names = run(w, hw_with()).program.op_name
    assert not any("attn_core" in n for n in names)
