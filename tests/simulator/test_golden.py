"""The fast (numba) model against the golden cycle-stepped reference on random small cases.

Every tile's bytes, compute cycles, request/start/end cycle, every op's completion and every
op's action counts (MACs, buffer reads and writes, index decodes, vector-unit operations)
must be identical: this is what makes "cycle-accurate" (and the energy built on the counts)
a checked claim.
"""

from __future__ import annotations

import math
import numpy as np
import pytest

from simulator.config import parse_hw
from simulator.energy.actions import NAMES
from simulator.schedule.run import run
from tests.golden import reference
from workloads.errors import InputError
from workloads.kv_budget import KVBudget
from workloads.masks import CsrMask
from workloads.presets import ModelShape
from workloads.workload import Projection, Workload

N_CASES = 320


def random_hw(rng: np.random.Generator, nm_rng: np.random.Generator | None = None) -> dict:
    """A random hardware config; nm_rng (its own stream, so the other draws stay those of the
    cases without it) sometimes adds an N:M denser engine and a sparser position cost."""
    policy = rng.choice(["fixed", "shared_width", "time_multiplexed"])
    kind = "mac_lines" if policy == "shared_width" or rng.random() < 0.4 else "systolic"
    rows, cols = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    P = rows if policy == "shared_width" else int(rng.integers(1, 7))
    hw = {
        "name": "golden",
        "clock_mhz": float(rng.choice([100, 250, 500, 1000])),
        "denser_engine": {"kind": kind, "rows": rows, "cols": max(cols, 2) if policy == "shared_width" else cols,
                          "dataflow": str(rng.choice(["ws", "os", "is"])),
                          "timing": str(rng.choice(["scalesim", "physical"])),
                          "pipeline_latency": int(rng.integers(0, 3)), "packing": bool(rng.random() < 0.7)},
        "sparser_engine": {"lines": int(rng.integers(1, 7)), "macs_per_line": P,
                           "mapping": str(rng.choice(["token_parallel", "nnz_parallel", "adaptive"])),
                           "format": str(rng.choice(["csc", "csr", "bitmask"])),
                           "index_bits": int(rng.integers(3, 9)), "pointer_bits": int(rng.choice([8, 16])),
                           "unit_overhead": int(rng.integers(0, 3)), "pipeline_latency": int(rng.integers(0, 3)),
                           "assignment": str(rng.choice(["round_robin", "greedy", "interleaved"]))},
        "split": {"policy": str(policy), "density_threshold": float(rng.choice([0.3, 0.6, 0.9, 1.0]))},
        "precision": {"weight_bits": int(rng.choice([4, 8, 16])), "activation_bits": int(rng.choice([8, 16])),
                      "output_bits": int(rng.choice([8, 16, 32])), "kv_bits": int(rng.choice([4, 8, 16]))},
        "vector_unit": {"lanes": int(rng.integers(1, 9)), "latency": int(rng.integers(0, 4)),
                        "norm_passes": int(rng.integers(1, 4)), "softmax_passes": int(rng.integers(1, 4)),
                        "silu_mul_passes": int(rng.integers(1, 3)), "add_passes": int(rng.integers(1, 3))},
    }
    if rng.random() < 0.7:
        hw["buffers"] = {"weight_kib": float(rng.choice([0.25, 0.5, 1, 2])), "input_kib": float(rng.choice([0.03125, 0.0625, 0.25, 0.5, 1])),
                         "output_kib": float(rng.choice([0.03125, 0.0625, 0.25, 0.5, 1])), "index_kib": float(rng.choice([0.125, 0.25, 0.5])),
                         "double_buffering": bool(rng.random() < 0.6)}
    if rng.random() < 0.7:
        hw["dram"] = {"latency_ns": float(rng.choice([0, 10, 50]))}
        kind = rng.random()
        if kind < 0.25:  # per-operand ports
            hw["dram"]["ports"] = {f"{k}_gbps": float(rng.choice([0.4, 1.6, 4.0, 12.8])) for k in ("weight", "input", "output")}
        else:
            hw["dram"]["bandwidth_gbps"] = float(rng.choice([0.4, 1.6, 4.0, 12.8]))
            if kind < 0.6:  # several interleaved channels
                hw["dram"]["channels"] = int(rng.integers(2, 5))
                hw["dram"]["interleave_bytes"] = int(rng.choice([1, 4, 16, 64]))
    if nm_rng is not None and nm_rng.random() < 0.35:
        m = int(nm_rng.choice([2, 3, 4, 8]))
        hw["denser_engine"]["nm_sparsity"] = {"n": int(nm_rng.integers(1, m)), "m": m,
                                              "index_bits": math.ceil(math.log2(m)) + int(nm_rng.integers(0, 2))}
    if nm_rng is not None and nm_rng.random() < 0.3:
        hw["sparser_engine"]["position_bytes"] = float(nm_rng.choice([0.125, 0.3, 1.0, 2.5]))
    return hw


def nm_mask(mask: np.ndarray, n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """An n:m-structured mask along the columns: every group of m columns of a row keeps
    exactly min(n, its width) entries, or the base mask's entries pruned to at most n; or,
    sometimes, the base mask itself (unstructured: S then runs as without the N:M engine)."""
    kind = rng.random()
    if kind < 0.15:
        return mask
    out = np.zeros_like(mask)
    for r in range(mask.shape[0]):
        for g in range(0, mask.shape[1], m):
            cols = np.arange(g, min(g + m, mask.shape[1]))
            pool = cols if kind < 0.55 else cols[mask[r, cols]]
            out[r, rng.permutation(pool)[:n]] = True
    return out


def random_attention_masks(rng: np.random.Generator, layers: int, heads: int, seq: int) -> list[np.ndarray]:
    """Per layer a (heads, seq, seq) bool map: per head, key columns kept with skewed
    probabilities (a few near 1: ViTCoD's global tokens), sometimes causal, sometimes with
    every score of some columns or rows pruned."""
    out = []
    for _ in range(layers):
        col_p = rng.uniform(0, 1, (heads, 1, seq)) ** float(rng.choice([0.3, 1, 4]))
        m = rng.random((heads, seq, seq)) < col_p
        if rng.random() < 0.3:
            m &= np.tril(np.ones((seq, seq), bool))
        if rng.random() < 0.2:
            m[:, :, rng.random(seq) < 0.3] = False
        out.append(m)
    return out


def random_kv_budget(kv_rng: np.random.Generator, context: int) -> KVBudget | None:
    """None, a window (recent keys + sinks) or a top-k budget, sometimes above the step's keys."""
    draw = kv_rng.random()
    if draw < 0.3:
        return None
    if draw < 0.65:
        return KVBudget("window", window=int(kv_rng.integers(1, context + 8)), sinks=int(kv_rng.integers(0, 5)))
    return KVBudget("topk", k=int(kv_rng.integers(1, context + 8)))


def random_case(rng: np.random.Generator, mask_rng: np.random.Generator, nm: tuple | None = None,
                nm_rng: np.random.Generator | None = None, kv_rng: np.random.Generator | None = None):
    """A random model, step and S masks; a whole-layer prefill sometimes gets attention-map
    masks, drawn from `mask_rng` so the other draws stay those of the unmasked cases, and a
    whole-layer decode step a KV budget, drawn from `kv_rng`. nm = (n, m): the S masks are made
    n:m structured (nm_mask, drawing from nm_rng)."""
    heads = int(rng.integers(1, 4))
    head_dim = int(rng.integers(2, 7))
    kv = int(rng.choice([d for d in range(1, heads + 1) if heads % d == 0]))
    shape = ModelShape("golden", int(rng.integers(3, 25)), int(rng.integers(3, 31)), heads, kv,
                       int(rng.integers(1, 3)), head_dim)
    dense_model = rng.random() < 0.15
    tokens = int(rng.integers(1, 6)) if rng.random() < 0.6 else int(rng.integers(6, 40))
    layer_scope = None
    if rng.random() < 0.35:  # the whole decoder layer: attention core, KV cache, vector unit
        phase = str(rng.choice(["decode", "prefill"]))
        batch = int(rng.integers(1, 3))
        seq = int(rng.integers(1, 72)) if phase == "prefill" else 1
        tokens = batch * seq if phase == "prefill" else batch
        layer_scope = {"heads": heads, "kv_heads": kv, "head_dim": head_dim, "hidden": shape.hidden_size,
                       "inter": shape.intermediate_size, "phase": phase, "batch": batch, "seq": seq,
                       "context": int(rng.integers(0, 40)) if phase == "decode" else 0}
    layers = []
    for layer in range(shape.num_layers):
        projs = []
        for name, module, m, n in shape.projections():
            if dense_model:
                projs.append({"name": name, "module": module, "m": m, "n": n, "rank": 0, "mask": None})
                continue
            col_p = rng.uniform(0, 1, n) ** float(rng.choice([0.5, 1, 3]))
            mask = rng.random((m, n)) < col_p[None, :]
            if nm is not None:
                mask = nm_mask(mask, *nm, nm_rng)
            rank = int(rng.integers(0, min(3, m, n) + 1))
            projs.append({"name": name, "module": module, "m": m, "n": n, "rank": rank, "mask": mask})
        layers.append(projs)
    if layer_scope is not None and layer_scope["phase"] == "prefill" and mask_rng.random() < 0.7:
        layer_scope["masks"] = random_attention_masks(mask_rng, shape.num_layers, heads, layer_scope["seq"])
    if layer_scope is not None and layer_scope["phase"] == "decode" and kv_rng is not None:
        layer_scope["kv_budget"] = random_kv_budget(kv_rng, layer_scope["context"])
    return shape, tokens, layers, dense_model, layer_scope


def fast_workload(shape: ModelShape, tokens: int, layers, layer_scope: dict | None = None) -> Workload:
    def layer_projections(layer: int) -> list[Projection]:
        return [Projection(layer, q["name"], q["module"], q["m"], q["n"], q["rank"],
                           None if q["mask"] is None else CsrMask.from_dense(q["mask"])) for q in layers[layer]]

    if layer_scope is None:
        return Workload(shape, "decode", tokens, 1, "golden case", layer_projections)
    ls = layer_scope
    masks = ls.get("masks")
    return Workload(shape, ls["phase"], ls["batch"], ls["seq"], "golden case", layer_projections, "layer",
                    ls["context"], None if masks is None else masks.__getitem__, ls.get("kv_budget"))


def plain_aggregates(hw, ops, gold) -> tuple:
    """Per-op first request, compute cycles, DRAM bytes, memory-stall cycles and the peak
    on-chip weight bytes, from the golden model's times (the report's definitions)."""
    ideal = hw.dram is None
    first, busy, dram, stall = [], [], [], []
    prev_end = {0: 0, 1: 0, 2: 0}
    events = []
    for o, op in enumerate(ops):
        if op["stream"] == 3:
            first.append(gold["grant"][("wb", o)])
            busy.append(0)
            dram.append(0 if ideal else op["wb"])
            stall.append(0)
            continue
        s = op["stream"]
        ready = max([gold["op_done"][d] for d in op["deps"]], default=0)
        first.append(gold["req"][(o, 0)])
        busy.append(sum(c for _, c, _ in op["tiles"]))
        dram.append(0 if ideal else sum(b for b, _, _ in op["tiles"]))
        st = 0
        for k, (_, _, w) in enumerate(op["tiles"]):
            st += max(0, gold["start"][(o, k)] - max(prev_end[s], ready))
            prev_end[s] = gold["end"][(o, k)]
            events += [(gold["grant"][(o, k)], w), (gold["end"][(o, k)], -w)]
        stall.append(st)
    occ = peak = 0
    for _, delta in sorted(events):  # releases (negative) first at equal times
        occ += delta
        peak = max(peak, occ)
    return first, busy, dram, stall, peak


def test_fast_model_equals_golden_reference_on_random_cases():
    rng, mask_rng, nm_rng = np.random.default_rng(20261122), np.random.default_rng(7), np.random.default_rng(22)
    kv_rng = np.random.default_rng(2212)
    ran = 0
    kinds, scopes, masked_kinds, nm_kinds, budgets = set(), set(), set(), set(), set()
    while ran < N_CASES:
        try:
            hw = parse_hw(random_hw(rng, nm_rng), "golden")
        except InputError:
            continue
        vu = hw.vector_unit.model_copy(update={"topk_passes": int(kv_rng.integers(1, 4))})
        hw = hw.model_copy(update={"vector_unit": vu})
        nm = hw.denser_engine.nm_sparsity
        shape, tokens, layers, dense_model, layer_scope = random_case(rng, mask_rng, nm and (nm.n, nm.m), nm_rng, kv_rng)
        try:
            fast = run(fast_workload(shape, tokens, layers, layer_scope), hw, record_tiles=True)
            fast_unrecorded = run(fast_workload(shape, tokens, layers, layer_scope), hw)
        except InputError:  # a buffer too small for the smallest tile: both models share that check
            continue
        ops = reference.build(hw, layers, tokens, dense_model, layer_scope)
        gold = reference.run(hw, ops)
        a = fast.arrays
        # the same ops, tiles, bytes and compute cycles
        assert [op["stream"] for op in ops] == list(a["op_stream"])
        assert [op["deps"] for op in ops] == [list(d) for d in fast.program.op_deps]
        g_bytes = [t[0] for op in ops for t in op["tiles"]]
        g_cycles = [t[1] for op in ops for t in op["tiles"]]
        assert g_bytes == list(a["tile_bytes"]), f"case {ran}: tile bytes differ"
        assert g_cycles == list(a["tile_cycles"]), f"case {ran}: tile cycles differ"
        # the same schedule, cycle for cycle
        keys = [(o, k) for o, op in enumerate(ops) for k in range(len(op["tiles"]))]
        assert [gold["req"][k] for k in keys] == list(fast.tile_req), f"case {ran}: requests differ"
        assert [gold["start"][k] for k in keys] == list(fast.tile_start), f"case {ran}: starts differ"
        assert [gold["end"][k] for k in keys] == list(fast.tile_end), f"case {ran}: ends differ"
        assert [gold["op_done"][o] for o in range(len(ops))] == list(fast.op_done), f"case {ran}: op completion differs"
        assert gold["channel_cycles"] == fast.channel_busy
        # the same actions per op, every count (energy's inputs)
        g_actions = [[op["actions"][k] for k in NAMES] for op in ops]
        assert g_actions == [a.tolist() for a in fast.program.op_actions], f"case {ran}: action counts differ"
        assert [a.tolist() for a in fast_unrecorded.program.op_actions] == g_actions
        expect = plain_aggregates(hw, ops, gold)
        got = (fast.op_first, fast.op_busy, fast.op_dram, fast.op_stall)
        for name, e, g in zip(("first request", "compute cycles", "DRAM bytes", "memory stall"), expect, got):
            assert e == g.tolist(), f"case {ran}: per-op {name} differs"
        assert expect[4] == fast.peak_buffer_bytes, f"case {ran}: peak on-chip bytes differ"
        assert fast_unrecorded.op_first.tolist() == fast.op_first.tolist()
        assert fast_unrecorded.peak_buffer_bytes == fast.peak_buffer_bytes
        memory = "ideal" if hw.dram is None else ("ports" if hw.dram.ports else f"channels>1:{hw.dram.channels > 1}")
        kinds.add((hw.denser_engine.kind, hw.split.policy, memory, hw.sparser_engine.format))
        scopes.add("projections" if layer_scope is None else layer_scope["phase"] + (
            " masked" if layer_scope.get("masks") is not None else ""))
        masked_kinds.add((hw.split.policy, hw.sparser_engine.format) if "masks" in (layer_scope or {}) else None)
        b = (layer_scope or {}).get("kv_budget")
        if b is not None:  # which budget rules ran: a window cut, a top-k selection, a budget above the keys
            budgets.add((b.kind, b.budget < layer_scope["context"] + 1))
        parts = set(fast.program.op_part)
        if nm is not None and not dense_model:
            nm_kinds.add((hw.denser_engine.kind, "S_nm" in parts, "S_sparse" in parts or "S_dense" in parts))
        if hw.sparser_engine.position_bytes and "S_sparse" in parts:
            nm_kinds.add("position_bytes")
        ran += 1
    assert len(kinds) >= 30  # the cases really cover the configuration space
    assert scopes == {"projections", "decode", "prefill", "prefill masked"}
    assert {("window", True), ("window", False), ("topk", True), ("topk", False)} <= budgets
    assert len(masked_kinds - {None}) >= 6  # masked attention under every split policy and most formats
    # N:M S on both denser kinds, beside N:M configs whose unstructured S runs as before, and the position cost
    assert {("systolic", True, False), ("mac_lines", True, False), "position_bytes"} <= nm_kinds
    assert any(k[2] for k in nm_kinds if isinstance(k, tuple))


@pytest.mark.parametrize("dataflow,R,C,M,K,N,physical", [
    ("ws", 3, 4, 5, 7, 6, False), ("os", 2, 5, 4, 3, 9, True), ("is", 4, 2, 6, 5, 3, False)])
def test_golden_systolic_fold_times_follow_the_wavefront(dataflow, R, C, M, K, N, physical):
    """The golden fold time comes from stepping the wavefront; check it against hand-derived values."""
    t = reference.systolic_fold_time(dataflow, R, C, M, K, N, physical)
    expected = {"ws": 2 * R + C + M - 2, "os": R + C + K - 2 + (R if physical else 0), "is": 2 * R + C + N - 2}[dataflow]
    assert t == expected
