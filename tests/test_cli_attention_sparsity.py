"""`--attention-sparsity` on simulate and generate: budgets reach the simulator, bad specs
are refused in one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.test_cli_errors import HW, run_cli
from workloads.errors import InputError
from workloads.kv_budget import KVBudget, parse_attention_sparsity

SIM = ["simulate", "--model", "smollm2-135m", "--hw", str(HW / "edge.yaml"), "--layers", "1", "--scope", "layer"]
GEN = ["generate", "--model", "smollm2-135m", "--hw", str(HW / "edge.yaml"), "--layers", "1", "--prompt", "32",
       "--new-tokens", "8"]


def test_specs_parse():
    assert parse_attention_sparsity("window:1024+4") == KVBudget("window", window=1024, sinks=4)
    assert parse_attention_sparsity("window:256") == KVBudget("window", window=256, sinks=0)
    assert parse_attention_sparsity("topk:64") == KVBudget("topk", k=64)
    assert parse_attention_sparsity("mask:a/b.npy") == "a/b.npy"
    b = KVBudget("topk", k=64)
    assert (b.kept(10), b.scored(10), b.selects(10)) == (10, 10, False)
    assert (b.kept(100), b.scored(100), b.selects(100)) == (64, 100, True)
    w = KVBudget("window", window=8, sinks=2)
    assert (w.kept(100), w.scored(100), w.selects(100)) == (10, 10, False)


@pytest.mark.parametrize("spec", ["topk:0", "topk:-3", "window:0+4", "window:12+x", "window", "heavy:5", "topk:",
                                  "window:99999999"])
def test_bad_specs_are_refused(spec):
    with pytest.raises(InputError, match="--attention-sparsity"):
        parse_attention_sparsity(spec)


def _wrong_mask(tmp_path: Path) -> str:
    p = tmp_path / "m.npy"
    np.save(p, np.ones((1, 9, 16, 16), bool))  # smollm2-135m has 9 heads; the prompt is 32 tokens, not 16
    return str(p)


@pytest.mark.parametrize("extra,needle", [
    (["--context", "100", "--attention-sparsity", "window:1024+4"], "keeps all 101 keys"),
    (["--context", "100", "--attention-sparsity", "topk:101"], "keeps all 101 keys"),
    (["--context", "100", "--attention-sparsity", "topk:0"], "k '0' is not an integer in 1"),
    (["--context", "100", "--attention-sparsity", "mask:x.npy"], "a mask file is a prefill attention map"),
    (["--phase", "prefill", "--seq", "32", "--attention-sparsity", "window:8"], "a KV budget applies to decode"),
    (["--phase", "prefill", "--seq", "32", "--attention-sparsity", "mask:{wrong}"], "expected (L, 9, 32, 32) with L = 1"),
    (["--phase", "prefill", "--seq", "32", "--attention-sparsity", "mask:{missing}"], "no such file"),
])
def test_simulate_refuses_bad_attention_sparsity_in_one_line(tmp_path, capsys, extra, needle):
    extra = [e.format(wrong=_wrong_mask(tmp_path), missing=tmp_path / "none.npy") for e in extra]
    code, err = run_cli(capsys, *SIM, *extra)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_attention_sparsity_needs_the_layer_scope(capsys):
    argv = [a for a in SIM if a not in ("--scope", "layer")]
    code, err = run_cli(capsys, *argv, "--context", "100", "--attention-sparsity", "window:8")
    assert code == 2 and "--scope layer" in err and len(err.strip().splitlines()) == 1


def test_generate_refuses_a_window_the_generation_never_outgrows(capsys):
    code, err = run_cli(capsys, *GEN, "--attention-sparsity", "window:40")  # 32 + 8 keys at the last step
    assert code == 2 and "keeps all 40 keys" in err and len(err.strip().splitlines()) == 1


def test_budgets_cut_the_attention_core_and_keep_the_projections(tmp_path, capsys):
    """The same projections, less KV-cache traffic: a window reads W + S keys, top-k reads every
    K row but only k V rows, and the dense-weights run times sparse attention alone."""
    runs = {}
    for name, extra in (("dense-attn", []), ("window", ["--attention-sparsity", "window:60+4"]),
                        ("topk", ["--attention-sparsity", "topk:64"]),
                        ("window-only", ["--attention-sparsity", "window:60+4", "--dense-weights"])):
        out = tmp_path / f"{name}.json"
        code, err = run_cli(capsys, *SIM, "--context", "511", "--json", str(out), *extra)
        assert code == 0, err
        runs[name] = json.loads(out.read_text())
    kv = {k: r["energy"]["compressed"]["dram_bytes_by_operand"]["kv_cache_read"] for k, r in runs.items()}
    base = runs["dense-attn"]["energy"]["dense"]["dram_bytes_by_operand"]["kv_cache_read"]
    assert kv["dense-attn"] == base  # the same 512 keys per step, compressed or not
    assert kv["window"] == base * 64 // 512  # K and V rows of 64 keys
    assert kv["topk"] == base // 2 + base // 2 * 64 // 512  # every K row, 64 V rows
    assert kv["window-only"] == kv["window"]
    speed = {k: r["totals"]["speedup"] for k, r in runs.items()}
    assert speed["window"] > speed["dense-attn"] and speed["window-only"] > 1
    assert runs["window"]["provenance"]["workload"]["attention_sparsity"] == "window:60+4"


def test_generate_takes_a_budget_and_a_prompt_mask(tmp_path, capsys):
    mask = tmp_path / "causal.npy"
    np.save(mask, np.tril(np.ones((1, 9, 32, 32), bool)))
    base, window, masked = (tmp_path / f"{n}.json" for n in ("base", "window", "masked"))
    for out, extra in ((base, []), (window, ["--attention-sparsity", "window:16+4"]),
                       (masked, ["--attention-sparsity", f"mask:{mask}"])):
        code, err = run_cli(capsys, *GEN, "--json", str(out), *extra)
        assert code == 0, err
    b, w, m = (json.loads(p.read_text()) for p in (base, window, masked))
    # the budget changes the decode steps only; the mask the prompt's prefill only
    assert w["compressed"]["time_to_first_token_s"] == b["compressed"]["time_to_first_token_s"]
    assert w["compressed"]["decode_cycles"] < b["compressed"]["decode_cycles"]
    assert m["compressed"]["step_cycles"] == b["compressed"]["step_cycles"]
    assert m["compressed"]["time_to_first_token_s"] != b["compressed"]["time_to_first_token_s"]
