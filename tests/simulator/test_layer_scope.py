"""Whole-decoder-layer runs: the ops they add, the KV cache, the report's op classes, and the CLI."""

from __future__ import annotations

import json

import pytest

from simulator.api import simulate_shape
from simulator.config import load_hw
from simulator.schedule.run import run
from sslcsim.cli import main
from tests.simulator.test_config import HW
from workloads.budget import Budget
from workloads.errors import InputError
from workloads.presets import PRESETS, ModelShape
from workloads.workload import from_shape

TINY = ModelShape("tiny", 256, 512, 8, 2, 2, 32)


def test_layer_scope_adds_attention_core_vector_ops_and_the_kv_cache():
    hw = load_hw(HW / "vitcod.yaml")
    w = from_shape(TINY, None, "decode", 3, 1).with_scope("layer", 100)
    prog = run(w, hw).program
    names = set(prog.op_name)
    for g in range(TINY.num_key_value_heads):
        assert {f"L0.attn_core.qk.g{g}", f"L0.attn_core.softmax.g{g}", f"L0.attn_core.pv.g{g}"} <= names
    assert {"L1.attn_norm.vec", "L1.act.vec", "L1.ffn_residual.vec", "L1.attn_core.out"} <= names
    qk = prog.op_name.index("L0.attn_core.qk.g0")
    group = TINY.num_attention_heads // TINY.num_key_value_heads
    assert prog.op_macs[qk] == 3 * group * 101 * TINY.head_dim  # batch x group x (context + 1) x head_dim
    # the K cache of every sequence is read once: batch x keys x head_dim at kv_bits
    assert prog.op_weight_bytes[qk] == 3 * 101 * TINY.head_dim * hw.precision.kv_bits // 8
    k_out = prog.op_name.index("L0.k_proj.out")
    assert prog.op_wb_bytes[k_out] == 3 * TINY.kv_dim * hw.precision.kv_bits // 8


def test_longer_context_grows_attention_and_kv_share_but_not_projections():
    hw = load_hw(HW / "gpu-a100-like.yaml")
    short = simulate_shape(PRESETS["llama-2-7b"], hw, Budget(0.5, None), "decode", 16, 1, 0, 2, "layer", 512)
    long = simulate_shape(PRESETS["llama-2-7b"], hw, Budget(0.5, None), "decode", 16, 1, 0, 2, "layer", 16384)
    for which in ("dense", "compressed"):
        s, lg = short["classes"][which], long["classes"][which]
        assert lg["kv_cache"]["dram_share"] > s["kv_cache"]["dram_share"]
        assert lg["attention_core"]["active_share"] > s["attention_core"]["active_share"]
        assert lg["projections"]["compute_cycles"] == s["projections"]["compute_cycles"]
    assert long["totals"]["speedup"] < short["totals"]["speedup"]  # attention is not compressed


def test_scope_input_errors():
    with pytest.raises(InputError, match="applies to decode only"):
        from_shape(TINY, None, "prefill", 1, 8).with_scope("layer", 5)
    with pytest.raises(InputError, match="--scope"):
        from_shape(TINY, None, "decode", 1, 1).with_scope("everything")


def test_simulate_layer_scope_report_reproduces(tmp_path, capsys):
    out = tmp_path / "r.json"
    args = ["simulate", "--model", "smollm2-135m", "--layers", "2", "--hw", str(HW / "vitcod.yaml"), "--scope", "layer",
            "--context", "300", "--batch", "2", "--json", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["scope"] == "layer" and report["context"] == 300
    assert report["provenance"]["workload"]["scope"] == "layer"
    assert "KV cache" in capsys.readouterr().out
    assert main(["reproduce", "--from", str(out)]) == 0
    assert main(["simulate", "--model", "smollm2-135m", "--hw", str(HW / "vitcod.yaml"), "--phase", "prefill",
                 "--scope", "layer", "--context", "3"]) == 2
