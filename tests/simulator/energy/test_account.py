"""Energy accounting: prices times the counted actions, exactly; overrides applied and listed;
bad energy input refused."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.config import load_hw, parse_hw
from simulator.energy import actions as A
from simulator.energy.account import DYNAMIC, dram_bytes_by_operand, op_energy
from simulator.energy.costs import resolve
from simulator.energy.report import energy_section
from simulator.energy.tech import dram_cost
from simulator.schedule.run import run
from workloads.budget import Budget
from workloads.errors import InputError
from workloads.presets import ModelShape
from workloads.workload import from_shape

SHAPE = ModelShape("tiny", 96, 256, 4, 2, 2, 24)


def _hw(**energy) -> object:
    raw = load_hw("hwconfigs/edge.yaml").model_dump(mode="json")
    if energy:
        raw["energy"] = energy
    return parse_hw(raw, "test")


def _runs(hw, phase="prefill", scope="projections"):
    seq, ctx = (32, 0) if phase == "prefill" else (1, 16)
    comp = from_shape(SHAPE, Budget(ratio=0.5, rank=8), phase, 2, seq, 0, None).with_scope(scope, ctx)
    dense = from_shape(SHAPE, None, phase, 2, seq, 0, None).with_scope(scope, ctx)
    return run(comp, hw), run(dense, hw)


def test_dram_energy_is_bytes_times_the_dram_types_pj_per_bit_exactly():
    hw = _hw()
    for phase, scope in (("decode", "layer"), ("prefill", "projections")):
        comp, _ = _runs(hw, phase, scope)
        per_op = op_energy(comp, resolve(hw))
        pj = dram_cost(hw.technology.dram_type)
        assert pj.read_pj_per_bit == pj.write_pj_per_bit  # the tables give one figure per type
        want = float(comp.op_dram.sum()) * 8 * pj.read_pj_per_bit
        assert per_op[:, DYNAMIC.index("dram")].sum() == pytest.approx(want, rel=1e-12)
        assert sum(dram_bytes_by_operand(comp).values()) == int(comp.op_dram.sum())


def test_overrides_replace_single_costs_and_are_listed():
    hw = _hw(mac_pj=1.0, dram_pj_per_byte=8.0)
    comp, dense = _runs(hw)
    costs = resolve(hw)
    assert costs.overridden == ["dram_pj_per_byte", "mac_pj"]
    per_op = op_energy(comp, costs)
    computed = sum(int(a[A.COMPUTED_MACS]) for a in comp.program.op_actions)
    assert per_op[:, DYNAMIC.index("mac")].sum() == pytest.approx(computed * 1.0)
    assert per_op[:, DYNAMIC.index("dram")].sum() == pytest.approx(float(comp.op_dram.sum()) * 8.0)
    section = energy_section(comp, dense)
    assert section["costs"]["overridden"] == ["dram_pj_per_byte", "mac_pj"]


def test_report_totals_add_up_and_compression_saves_dram_energy_in_decode():
    hw = _hw()
    comp, dense = _runs(hw, "decode", "projections")
    e = energy_section(comp, dense)
    for which in ("compressed", "dense"):
        tot = e[which]["energy_pj"]
        assert tot["total"] == pytest.approx(sum(v for k, v in tot.items() if k != "total"))
        assert all(v >= 0 for v in tot.values())
        layers = e[which]["layers"]
        assert sum(g["total"] for g in layers.values()) == pytest.approx(tot["total"])
        assert e[which]["area_mm2"]["total"] > 0
    assert e["compressed"]["energy_pj"]["dram"] < e["dense"]["energy_pj"]["dram"]
    useful = sum(int(a[A.USEFUL_MACS]) for a in comp.program.op_actions)
    assert 0 < useful <= sum(int(a[A.COMPUTED_MACS]) for a in comp.program.op_actions)


@pytest.mark.parametrize("energy,needle", [
    ({"mac_pj": 1e308}, "mac_pj"),
    ({"mac_pj": -1.0}, "mac_pj"),
    ({"sram_pj_per_byte": 1.0, "weight_buffer_read_pj_per_bit": 0.1}, "sram_pj_per_byte"),
])
def test_bad_energy_overrides_are_refused_in_one_line(energy, needle):
    with pytest.raises(InputError) as e:
        _hw(**energy)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_energy_without_technology_is_refused():
    raw = load_hw("hwconfigs/edge.yaml").model_dump(mode="json")
    raw["technology"] = None
    raw["energy"] = {"mac_pj": 0.2}
    with pytest.raises(InputError, match="technology"):
        parse_hw(raw, "test")


@pytest.mark.parametrize("key,value", [("node_nm", 5), ("node_nm", 500), ("dram_type", "HBM9"),
                                       ("mac_precision", "int3")])
def test_bad_technology_is_refused_in_one_line(key, value):
    raw = load_hw("hwconfigs/edge.yaml").model_dump(mode="json")
    raw["technology"][key] = value
    with pytest.raises(InputError) as e:
        resolve(parse_hw(raw, "test"))
    assert "\n" not in str(e.value)


def test_every_shipped_technology_config_resolves():
    for name in ("vitcod", "edge", "datacenter", "gpu-a100-like"):
        costs = resolve(load_hw(f"hwconfigs/{name}.yaml"))
        assert costs is not None and costs.total_area_mm2 > 0 and costs.leakage_mw > 0
        assert np.isfinite(list(costs.buffer_read_pj_per_bit.values())).all()


def test_a_shared_array_is_priced_once():
    """vitcod.yaml's engines share one 64 x 64 array of lines (shared_width): 4096 MAC units, not 8192."""
    hw = load_hw("hwconfigs/vitcod.yaml")
    one = resolve(hw).area_mm2["macs"]
    fixed = parse_hw({**hw.model_dump(mode="json"), "split": {"policy": "fixed", "density_threshold": 1.0}}, "t")
    assert resolve(fixed).area_mm2["macs"] == pytest.approx(2 * one)
