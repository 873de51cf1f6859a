from __future__ import annotations

import json

import pytest

from workloads.budget import Budget
from workloads.errors import InputError
from workloads.graph import op_graph, program_order
from workloads.presets import PRESETS, resolve_model


def test_budget_accounting_and_ratio_readings():
    b = Budget(0.5, 128, 0.01, s_density="accounting")
    m = n = 4096
    assert b.s_nnz("q", m, n) == round((0.5 - 128 * 8192 / 4096**2) * m * n)  # 43.75%
    assert Budget(0.5, 128, s_density="ratio").s_nnz("q", m, n) == m * n // 2


@pytest.mark.parametrize("kwargs,needle", [
    (dict(ratio=0.0, rank=1), "--ratio"), (dict(ratio=0.5, rank=-1), "--rank"),
    (dict(ratio=0.2, rank=1, preserve=0.3), "cannot exceed"), (dict(ratio=0.5, rank=1, pattern="5:4"), "--pattern"),
])
def test_bad_budgets(kwargs, needle):
    with pytest.raises(InputError, match=needle):
        Budget(**kwargs)


def test_budget_that_cannot_be_met_and_rank_too_large():
    with pytest.raises(InputError, match="budget cannot be met"):
        Budget(0.3, 128).s_nnz("k_proj", 192, 576)
    with pytest.raises(InputError, match="exceeds min"):
        Budget(0.5, 200).s_nnz("k_proj", 192, 576)


def test_nm_budget_is_exact():
    assert Budget(0.5, 0, 0.0, "2:4").s_nnz("q", 8, 16) == 8 * 8


def test_presets_match_public_configs():
    q = PRESETS["qwen2.5-7b"]
    assert (q.hidden_size, q.intermediate_size, q.kv_dim, q.num_layers) == (3584, 18944, 512, 28)
    s = PRESETS["smollm2-135m"]
    assert (s.hidden_size, s.intermediate_size, s.num_attention_heads, s.num_key_value_heads, s.num_layers) == (576, 1536, 9, 3, 30)
    assert [p[2:] for p in PRESETS["llama-3-8b"].projections()][:2] == [(4096, 4096), (1024, 4096)]


def test_config_json_and_errors(tmp_path):
    cfg = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
           "num_hidden_layers": 3, "model_type": "llama"}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    shape = resolve_model(str(p))
    assert (shape.kv_dim, shape.num_layers) == (32, 3)
    cfg["num_hidden_layers"] = -1
    p.write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="num_hidden_layers"):
        resolve_model(str(p))
    with pytest.raises(InputError, match="unknown preset"):
        resolve_model("llama-99")


def test_op_graph_orders_layers_and_projections():
    names = [p[0] for p in PRESETS["smollm2-135m"].projections()]
    g = op_graph(2, names, {n: ("S", "V", "U") for n in names})
    order = program_order(g)
    assert order.index("L0.q_proj.V") < order.index("L0.q_proj.U") < order.index("L0.q_proj.out")
    assert order.index("L0.down_proj.out") < order.index("L1.q_proj.S")
    assert g.has_edge("L0.gate_proj.out", "L0.down_proj.S") and g.has_edge("L0.o_proj.out", "L0.up_proj.V")


@pytest.mark.parametrize("edit,words", [
    ({"num_key_value_heads": 5}, "not a multiple of num_key_value_heads"),
    ({"hidden_size": 100, "num_attention_heads": 3, "num_key_value_heads": 1}, "not divisible by num_attention_heads"),
    ({"hidden_size": 2 ** 30}, "hidden_size"),
    ({"hidden_size": 1e30}, "hidden_size"),
    ({"num_hidden_layers": True}, "num_hidden_layers"),
])
def test_config_json_shapes_are_checked(tmp_path, edit, words):
    import json

    from workloads.presets import shape_from_config

    cfg = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
           "num_hidden_layers": 2, **edit}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    with pytest.raises(InputError) as e:
        shape_from_config(p)
    assert "\n" not in str(e.value) and words in str(e.value)


def test_config_json_that_is_not_a_file_or_not_text(tmp_path):
    from workloads.presets import shape_from_config

    (tmp_path / "d" / "config.json").mkdir(parents=True)  # a directory where the file should be
    binary = tmp_path / "b.json"
    binary.write_bytes(b'{"hidden_size": "\xff"}')
    for path, words in ((tmp_path / "d", "not a regular file"), (binary, "not UTF-8")):
        with pytest.raises(InputError, match=words):
            shape_from_config(path)
