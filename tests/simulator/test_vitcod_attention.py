"""The ViTCoD-compatible attention mode equals ViTCoD's attention simulator (GATECH-EIC/ViTCoD
Hardware/Simulator/ViTCoD.py at b2f7fb5, with SRAM.py's load rule).

`vitcod_py` below restates that script in its own per-token loop form: one load call per
token with the ceil per call, one increment per cycle, the sparse region walked as COO
entries. Where ViTCoD's script raises, it applies the choice documented in
simulator/vitcod/attention.py and records which exception ViTCoD would have raised. It
does not call the module under test. The committed log's numbers
(masks/deit_tiny_lowrank/vitcod_atten_0.95_wo.txt) are checked too.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from simulator.vitcod.attention import VitcodParams, layer_cost, vitcod_attention
from tests.workloads.test_attention_masks import reorder_py
from workloads.attention_masks import polarized
from workloads.errors import InputError

BANDWIDTH = 76.8 * 1024 * 1024 * 1024 * 8
CLOCK = 500 * 1e6
MAX_K = 53 * 1024 * 8


def sram_load(nums, bits=8, bandwidth_ratio=1):
    return math.ceil(nums * bits / (BANDWIDTH * bandwidth_ratio) * CLOCK)


def qk_loads(gt, n, head, d, ratio, pre_tok, reload):
    """The Q/K loading section: (dense load, dense PRE, sparse load, sparse PRE)."""
    load_d = pre_d = load_s = pre_s = 0
    for k in range(gt):
        load_d += sram_load(head * ratio * 1 * d)
        if k == 0:
            load_d += sram_load(head * ratio * 1, bandwidth_ratio=1 / head)
        for _ in range(pre_tok):
            pre_d += 1
        for q in range(n):
            if k == 0:
                load_d += sram_load(head * ratio * 1 * d)
                if q == 0:
                    load_d += sram_load(head * ratio * 1, bandwidth_ratio=1 / head)
                for _ in range(pre_tok):
                    pre_d += 1
    for i in range(n - gt):
        load_s += sram_load(head * ratio * 1 * d)
        if i == 0:
            load_s += sram_load(head * ratio * 1, bandwidth_ratio=1 / head)
        for _ in range(pre_tok):
            pre_s += 1
    if gt == 0:  # ViTCoD's Q reload; its float nnz/N is taken exactly (the documented choice)
        for i in range(n):
            load_s += sram_load(head * ratio * 1 * d) * reload
            if i == 0:
                load_s += sram_load(head * ratio * 1, bandwidth_ratio=1 / head)
            for _ in range(pre_tok):
                pre_s += reload
    return load_d, pre_d, load_s, pre_s


def sddmm(gt, n, nnz, dw, sw, tiles, width):
    dense = sparse = 0
    if gt and dw == 0:  # ViTCoD: ceil(N / 0); the sparser engine takes the gt*N dense scores too
        for _ in range(math.ceil((nnz + gt * n) / width)):
            for _ in range(tiles):
                sparse += 1
        return dense, sparse
    for _ in range(gt):
        for _ in range(math.ceil(n / dw)):
            for _ in range(tiles):
                dense += 1
    if sw == 0:  # ViTCoD: ceil(nnz / 0), only ever with nnz = 0
        assert nnz == 0
        return dense, sparse
    for _ in range(math.ceil(nnz / sw)):
        for _ in range(tiles):
            sparse += 1
    return dense, sparse


def row_counts(sparser, n):
    """ViTCoD's num_list accumulation over the COO entries (row-major)."""
    row_index = list(range(n))
    num_list, acc, i = [], 0, 0
    for q, _k in sparser:
        if q == row_index[i]:
            acc += 1
        else:
            if acc:
                num_list.append(acc)
            i, acc = q, 1
    num_list.append(acc)
    return num_list


def spmm(gt, n, d, num_list, md, ms, m_all):
    dense_macs = n * d * gt
    sparse_macs = 0
    for row_num in num_list:
        sparse_macs += row_num * d
    if md == 0:  # ViTCoD divides by 0: the sparser engine does both with all W lines
        return 0, math.ceil((dense_macs + sparse_macs) / m_all)
    if ms == 0:
        return math.ceil((dense_macs + sparse_macs) / m_all), 0
    dense = 0
    for _ in range(math.ceil(dense_macs / md)):
        dense += 1
    return dense, math.ceil(sparse_macs / ms)


def first_crash(gt, nnz, head, d, ratio, dw, sw, md, ms):
    """Which ViTCoD statement raises first in a layer (a keyword of our message), or None."""
    checks = [
        (head * ratio * 1 * d * 8 > MAX_K, "preload_K"),
        (MAX_K / (head * d * 8) == gt, "reload_ratio"),
        (gt == 0 and nnz == 0, "dense_ratio"),
        (gt > 0 and dw == 0, "dense SDDMM"),
        (sw == 0, "sparse SDDMM"),
        (head * 1 * d * 8 > MAX_K, "preload_V"),
        (md == 0, "dense SpMM"),
        (ms == 0, "sparse SpMM"),
    ]
    return next((name for hit, name in checks if hit), None)


def vitcod_py(kept, d=64, ratio=2 / 3, threshold=50, width=64, h_eff=64, v_factor=1):
    """ViTCoD.py's attention loop over layers (head 0 only); per layer a dict, and the totals."""
    n_layers, head, n = kept.shape[:3]
    layers = []
    tot = {"preload": 0, "pre": 0, "sddmm": 0, "spmm": 0}
    for layer in range(n_layers):
        mask, gt = reorder_py(kept[layer, 0], threshold)
        sparser = [(q, k) for q in range(n) for k in range(n - gt) if mask[q, gt + k]]
        nnz = len(sparser)
        pre_tok = math.ceil((head * ratio * 1 * d) / int(width * h_eff / head))
        load_d, pre_d, load_s, pre_s = qk_loads(gt, n, head, d, ratio, pre_tok, Fraction(nnz, n))
        dense_ratio = gt * n / (nnz + gt * n) if gt * n + nnz else 0.0
        dw = int(width * dense_ratio)
        sw = width - dw
        tiles = math.ceil(d / (h_eff / head))
        sd_d, sd_s = sddmm(gt, n, nnz, dw, sw, tiles, width)
        v_d = 0
        for _ in range(gt):
            v_d += sram_load(head * 1 * d)
        v_s = 0
        for _ in range(n - gt):
            v_s += sram_load(head * 1 * d) * v_factor if v_factor != 1 else sram_load(head * 1 * d)
        md, ms = int(dw * h_eff / head), int(sw * h_eff / head)
        sp_d, sp_s = spmm(gt, n, d, row_counts(sparser, n), md, ms, int(width * h_eff / head))
        row = {"gt": gt, "nnz": nnz, "dw": dw, "sw": sw, "preload": load_d + load_s + v_d + v_s,
               "pre": pre_d + pre_s, "sddmm_dense": sd_d, "sddmm_sparse": sd_s, "spmm_dense": sp_d,
               "spmm_sparse": sp_s, "crash": first_crash(gt, nnz, head, d, ratio, dw, sw, md, ms)}
        layers.append(row)
        tot["preload"] += row["preload"]
        tot["pre"] += row["pre"]
        tot["sddmm"] += max(sd_d, sd_s)
        tot["spmm"] += max(sp_d, sp_s)
    total = max(tot["preload"], tot["pre"] + tot["sddmm"] + tot["spmm"])
    return layers, {**tot, "total": total}


def vitcod_py_flags(kept, feature_dim=64, ratio=2 / 3, pe_width=64):
    """ViTCoD.py b2f7fb5 as run from its command line (`--feature_dim --ratio --PE_width`):
    the script reads args.PE_width both as the line count and as the per-head MAC height
    (PE_width/head), and never reads --PE_height; threshold 50 is reorder.py's, V load x1."""
    return vitcod_py(kept, d=feature_dim, ratio=ratio, width=pe_width, h_eff=pe_width)


# (layers, heads, N, global_tokens, density, seed, VitcodParams overrides, what it covers)
SPECIAL = [
    (2, 3, 40, 2, 0.3, 1, {}, "N <= threshold: no dense column (gt = 0), ViTCoD crashes at dense SpMM"),
    (1, 3, 197, 0, 0.05, 2, {}, "no global column at N = 197"),
    (1, 2, 60, 0, 0.0, 3, {}, "empty mask: gt = nnz = 0, crash at dense_ratio"),
    (1, 3, 120, 120, 0.0, 4, {}, "every column dense: sw = 0"),
    (2, 4, 150, 5, 0.0, 5, {}, "empty sparse region with gt > 0: sw = 0"),
    (1, 3, 300, 1, 0.35, 6, {"threshold": 150}, "dense ratio < 1/W: dw = 0 with gt = 1"),
    (1, 4, 256, 212, 0.01, 7, {}, "gt = max_K/(heads*D*8): the unused reload_ratio divides by 0"),
    (1, 12, 300, 1, 0.164, 8, {"threshold": 150, "h_eff": 8}, "dw = 1 but int(dw*H_eff/heads) = 0"),
    (2, 3, 100, 0, 0.1, 9, {"v_load_factor": 1.5}, "gt = 0 with the x1.5 V load (floats)"),
    (1, 12, 200, 6, 0.08, 10, {"head_dim": 128, "ratio": 1.0, "width": 32}, "12 heads of 128, W = 32"),
    (1, 1, 16, 1, 0.4, 11, {"threshold": 10}, "one head, N = 16, gt = 1"),
]


def random_cases(count: int) -> list[tuple]:
    rng = np.random.default_rng(2024)
    cases = []
    for i in range(count):
        n = int(rng.integers(16, 301))
        params = {"threshold": int(rng.choice([50, 50, 20, 150])), "head_dim": int(rng.choice([32, 64, 64, 128])),
                  "h_eff": int(rng.choice([64, 64, 8])), "v_load_factor": float(rng.choice([1, 1, 1.5]))}
        cases.append((int(rng.integers(1, 4)), int(rng.integers(1, 13)), n, int(rng.integers(0, min(n, 8) + 1)),
                      float(rng.choice([0.0, 0.01, 0.05, 0.15, 0.3])), 100 + i, params, f"random {i}"))
    return cases


@pytest.mark.parametrize("case", SPECIAL + random_cases(16), ids=lambda c: c[-1])
def test_equals_the_loop_restatement_of_vitcod_py(case):
    layers, heads, n, g, density, seed, overrides, _ = case
    kept = polarized(layers, heads, n, g, density, seed)
    p = VitcodParams(**overrides)
    got = vitcod_attention(kept, p)
    want_layers, want = vitcod_py(kept, p.head_dim, p.ratio, p.threshold, p.width, p.h_eff, p.v_load_factor)
    for c, w in zip(got.layers, want_layers, strict=True):
        assert (c.gt, c.nnz, c.dw, c.sw) == (w["gt"], w["nnz"], w["dw"], w["sw"])
        assert (c.sddmm_dense, c.sddmm_sparse, c.spmm_dense, c.spmm_sparse) == \
            (w["sddmm_dense"], w["sddmm_sparse"], w["spmm_dense"], w["spmm_sparse"])
        assert c.preload == w["preload"] and c.pre == w["pre"]
        assert (c.vitcod_crash is None) == (w["crash"] is None)
        assert w["crash"] is None or w["crash"] in c.vitcod_crash
    assert (got.preload, got.pre, got.compute, got.total) == \
        (want["preload"], want["pre"], want["sddmm"] + want["spmm"], want["total"])
    crashed = [i for i, w in enumerate(want_layers) if w["crash"]]
    assert got.first_crash_layer == (crashed[0] if crashed else None)


@pytest.mark.parametrize("pe_width,feature_dim", [(32, 32), (16, 64), (64, 64)])
def test_from_pe_width_is_vitcods_pe_width_flag(pe_width, feature_dim):
    kept = polarized(2, 3, 197, 2, 0.05, 12)
    got = vitcod_attention(kept, VitcodParams.from_pe_width(pe_width, head_dim=feature_dim))
    want_layers, want = vitcod_py_flags(kept, feature_dim=feature_dim, pe_width=pe_width)
    assert [(c.dw, c.sddmm_dense, c.sddmm_sparse, c.spmm_dense, c.spmm_sparse, c.preload, c.pre) for c in got.layers] \
        == [(w["dw"], w["sddmm_dense"], w["sddmm_sparse"], w["spmm_dense"], w["spmm_sparse"], w["preload"], w["pre"])
            for w in want_layers]
    assert (got.preload, got.pre, got.compute, got.total) == \
        (want["preload"], want["pre"], want["sddmm"] + want["spmm"], want["total"])
    if pe_width != 64:  # W alone leaves H_eff at 64: not what ViTCoD's --PE_width runs
        alone = vitcod_attention(kept, VitcodParams(width=pe_width, head_dim=feature_dim))
        assert alone.compute != got.compute


def test_the_special_cases_cover_what_they_claim():
    gts = {c[-1]: vitcod_attention(polarized(*c[:6]), VitcodParams(**c[6])).layers[0] for c in SPECIAL}
    assert gts[SPECIAL[0][-1]].gt == 0 and gts[SPECIAL[0][-1]].nnz > 0
    assert gts[SPECIAL[3][-1]].gt == 120 and gts[SPECIAL[3][-1]].sw == 0
    assert gts[SPECIAL[4][-1]].nnz == 0 and gts[SPECIAL[4][-1]].gt == 5
    assert gts[SPECIAL[5][-1]].gt == 1 and gts[SPECIAL[5][-1]].dw == 0
    assert gts[SPECIAL[6][-1]].gt == 212 and "reload_ratio" in gts[SPECIAL[6][-1]].vitcod_crash
    assert gts[SPECIAL[7][-1]].dw == 1 and "dense SpMM" in gts[SPECIAL[7][-1]].vitcod_crash


# ---------------------------------------------------------------- the committed log

# per layer of the log (N = 197, 3 heads): gt, an nnz inside the range consistent with all four
# engine numbers, then the logged Q/K dense load, dense PRE, Q/K sparse load, sparse PRE,
# SDDMM dense/sparse, V dense load, SpMM dense, V sparse load of the x1.5 run, SpMM sparse
LOG = [
    (1, 2250, 200, 198, 197, 196, 120, 117, 2, 119, 588.0, 115),
    (1, 395, 200, 198, 197, 196, 30, 30, 2, 29, 588.0, 28),
    (70, 2478, 269, 267, 128, 127, 840, 744, 140, 767, 381.0, 745),
    (1, 942, 200, 198, 197, 196, 54, 54, 2, 54, 588.0, 54),
    (1, 1397, 200, 198, 197, 196, 87, 75, 2, 85, 588.0, 74),
    (20, 1787, 219, 217, 178, 177, 300, 270, 40, 269, 531.0, 269),
    (17, 1333, 216, 214, 181, 180, 255, 213, 34, 224, 540.0, 211),
    (1, 1549, 200, 198, 197, 196, 87, 84, 2, 85, 588.0, 82),
    (1, 458, 200, 198, 197, 196, 33, 33, 2, 32, 588.0, 31),
    (9, 769, 208, 206, 189, 188, 135, 117, 18, 121, 564.0, 116),
    (10, 1038, 209, 207, 188, 187, 150, 138, 20, 145, 561.0, 136),
    (31, 601, 230, 228, 167, 166, 372, 303, 62, 316, 498.0, 301),
]


def test_spot_values_of_layer_0():
    c = layer_cost(1, 2250, 197, 3)
    assert (c.dw, c.sw) == (5, 59)
    assert (c.sddmm_dense, c.sddmm_sparse, c.spmm_dense, c.spmm_sparse) == (120, 117, 119, 115)
    assert c.preload == 791 and c.pre == 394 and c.vitcod_crash is None
    for gt in (1, 20, 70, 196):  # 4N + 3 whatever gt (gt >= 1)
        assert layer_cost(gt, 0 if gt == 196 else 10, 197, 3).preload == 791


def log_masks(rng: np.random.Generator) -> np.ndarray:
    """12 layers x 3 heads of N = 197 whose head 0 has the log's gt global columns (all rows
    kept) and nnz other kept scores spread so no other column passes the threshold 50."""
    n = 197
    kept = rng.random((12, 3, n, n)) < 0.5  # heads 1, 2: ignored by ViTCoD
    for layer, (gt, nnz, *_) in enumerate(LOG):
        m = np.zeros((n, n), bool)
        cols = rng.permutation(n)
        m[:, cols[:gt]] = True
        rest = cols[gt:]
        per_col = np.full(rest.size, nnz // rest.size) + (np.arange(rest.size) < nnz % rest.size)
        for c, k in zip(rest, per_col):
            m[rng.choice(n, size=k, replace=False), c] = True
        kept[layer, 0] = m
    return kept


@pytest.mark.parametrize("v_factor,preload", [(1.0, 9492), (1.5, 11693.0)])
def test_the_logs_twelve_layers(v_factor, preload):
    got = vitcod_attention(log_masks(np.random.default_rng(0)), VitcodParams(v_load_factor=v_factor))
    for c, row in zip(got.layers, LOG, strict=True):
        gt, nnz, qk_d, pre_d, qk_s, pre_s, sd_d, sd_s, v_d, sp_d, v_s15, sp_s = row
        assert (c.gt, c.nnz) == (gt, nnz)
        assert (c.load_qk_dense, c.pre_dense, c.load_qk_sparse, c.pre_sparse) == (qk_d, pre_d, qk_s, pre_s)
        assert (c.sddmm_dense, c.sddmm_sparse, c.load_v_dense) == (sd_d, sd_s, v_d)
        assert (c.spmm_dense, c.spmm_sparse) == (sp_d, sp_s)
        assert c.load_v_sparse == (v_s15 if v_factor == 1.5 else 2 * (197 - gt))
        assert c.vitcod_crash is None
    assert (got.pre, got.compute) == (4728, 4709)
    assert got.preload == preload and got.total == preload and type(got.total) is type(preload)
    assert got.first_crash_layer is None
    assert abs(got.mean_sparse_density - 0.03630901957304232) < 2e-4  # nnz chosen inside ranges only


def test_bad_masks_and_parameters_are_input_errors():
    kept = polarized(1, 3, 20, 1, 0.1, 0)
    for bad in (kept.astype(np.uint8), kept[0], kept[:, :, :, :19]):
        with pytest.raises(InputError):
            vitcod_attention(bad)
    for params in (VitcodParams(head_dim=0), VitcodParams(ratio=float("nan")), VitcodParams(v_load_factor=2.0),
                   VitcodParams(threshold=-1), VitcodParams(width=1, h_eff=2)):
        with pytest.raises(InputError):
            vitcod_attention(kept, params)
