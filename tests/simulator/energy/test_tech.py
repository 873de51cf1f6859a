"""The non-SRAM technology tables (simulator/energy/data) and their lookups (tech.py, scaling.py)."""

from __future__ import annotations

import math

import pytest
import yaml

from simulator.energy import scaling, tech
from simulator.energy.techdata import entries, raw_table
from workloads.errors import InputError

# Horowitz, ISSCC 2014, 45 nm, 0.9 V: (op, precision) -> (pJ, um^2).
HOROWITZ = {
    ("add", "int8"): (0.03, 36), ("add", "int16"): (0.05, 67), ("add", "int32"): (0.1, 137),
    ("add", "fp16"): (0.4, 1360), ("add", "fp32"): (0.9, 4184),
    ("multiply", "int8"): (0.2, 282), ("multiply", "int32"): (3.1, 3495),
    ("multiply", "fp16"): (1.1, 1640), ("multiply", "fp32"): (3.7, 7700),
}


@pytest.mark.parametrize(("op", "precision"), sorted(HOROWITZ))
def test_horowitz_values_come_back_exactly_at_45nm_and_0v9(op, precision):
    cost = tech.operator_cost(op, precision, 45, vdd_v=0.9)
    assert (cost.energy_pj, cost.area_um2) == HOROWITZ[(op, precision)]
    assert any("Horowitz" in s for s in cost.sources)


@pytest.mark.parametrize(("precision", "mul", "add"), [("int8", 0.2, 0.1), ("fp16", 1.1, 0.9), ("fp32", 3.7, 0.9)])
def test_mac_at_45nm_is_horowitz_multiply_plus_accumulator_add(precision, mul, add):
    mac = tech.mac_cost(precision, 45, vdd_v=0.9)
    assert (mac.multiply_pj, mac.add_pj) == (mul, add)
    reg = tech.register_cost(tech.precision_format(mac.accumulator)["bits"], 45, vdd_v=0.9)
    assert mac.accumulator_pj == reg.energy_pj
    assert mac.energy_pj == pytest.approx(mul + add + reg.energy_pj)
    mul_area = HOROWITZ[("multiply", precision)][1]
    assert mac.area_um2 == pytest.approx(mul_area + HOROWITZ[("add", mac.accumulator)][1] + reg.area_um2)


def test_nominal_45nm_supply_scales_horowitz_by_the_energy_fit():
    # PTM's 45 nm HP nominal is 1.0 V; Horowitz measured at 0.9 V.
    ratio = (1.018 - 0.3107 + 0.1539) / (1.018 * 0.81 - 0.3107 * 0.9 + 0.1539)
    assert tech.operator_cost("multiply", "int8", 45).energy_pj == pytest.approx(0.2 * ratio)


def test_accumulator_defaults_follow_the_sourced_table():
    assert [tech.default_accumulator(p) for p in ("int4", "int8", "fp16", "bf16", "fp32")] == \
        ["int32", "int32", "fp32", "fp32", "fp32"]
    assert tech.mac_cost("int16", 45, accumulator="int32").accumulator == "int32"


NODES = [7, 8.5, 10, 12, 14, 16, 20, 22, 28, 32, 40, 45, 55, 65, 90, 110, 130, 150, 180]


@pytest.mark.parametrize("node", NODES)
def test_scaling_a_node_to_itself_is_the_identity(node):
    assert scaling.scale_energy(0.37, node, node) == 0.37
    assert scaling.scale_area(123.0, node, node) == 123.0
    assert scaling.scale_energy(0.2, 45, 45, 0.9, 0.9) == 0.2


def test_scaling_is_monotone_in_the_node():
    grid = [7 + i * 0.5 for i in range(int((180 - 7) / 0.5) + 1)]
    energy = [scaling.scale_energy(1.0, 45, n) for n in grid]
    area = [scaling.scale_area(1.0, 45, n) for n in grid]
    assert all(b > a for a, b in zip(energy, energy[1:]))
    assert all(b > a for a, b in zip(area, area[1:]))
    assert scaling.scale_energy(1.0, 45, 7) < 1.0 < scaling.scale_energy(1.0, 45, 90)


def test_area_scaling_is_transitive():
    for a, b, c in [(180, 45, 7), (28, 90, 16), (7, 130, 40)]:
        via = scaling.scale_area(scaling.scale_area(5.0, a, b), b, c)
        assert via == pytest.approx(scaling.scale_area(5.0, a, c), rel=1e-12)


def test_every_published_area_factor_agrees_with_the_45nm_row_within_its_rounding():
    table = scaling.scaling_table()
    for i, src in enumerate(table.nodes):
        for j, dst in enumerate(table.nodes):
            published = table.area_matrix[src][j]
            assert published == pytest.approx(scaling.scale_area(1.0, src, dst), rel=0.12), (src, dst)


def test_energy_fit_reproduces_the_papers_corrigendum_example():
    # Stillmaker and Baas corrigendum: 1 pJ/op at 65 nm, 1.3 V -> 32 nm, 0.9 V is 0.1755 pJ/op.
    assert scaling.energy_factor(32, 0.9) == pytest.approx(0.4571, abs=1e-4)
    assert scaling.energy_factor(65, 1.3) == pytest.approx(2.604, abs=1e-3)
    assert scaling.scale_energy(1.0, 65, 32, 1.3, 0.9) == pytest.approx(0.1755, abs=1e-4)


@pytest.mark.parametrize("bad", [5, 6.99, 180.5, 250, float("nan"), float("inf"), "45", True, None])
def test_nodes_outside_the_table_are_refused_in_one_line(bad):
    shown = f"{bad:g} nm" if isinstance(bad, (int, float)) and not isinstance(bad, bool) and math.isfinite(bad) \
        else repr(bad)
    for call in (lambda: scaling.scale_energy(1.0, 45, bad), lambda: tech.mac_cost("int8", bad),
                 lambda: tech.logic_leakage(bad)):
        with pytest.raises(InputError) as err:
            call()
        message = str(err.value)
        assert "\n" not in message and "7-180 nm" in message and shown in message


def test_a_supply_outside_the_fit_is_refused():
    with pytest.raises(InputError, match="outside the Stillmaker-Baas energy fit at 180 nm"):
        scaling.energy_factor(180, 0.5)
    with pytest.raises(InputError, match="not a positive number"):
        scaling.energy_factor(45, -1.0)


@pytest.mark.parametrize("call", [
    lambda: tech.mac_cost("fp8", 45), lambda: tech.operator_cost("add", "int64", 45),
    lambda: tech.vector_cost("exp", "bfloat16", 45), lambda: tech.mac_cost("int8", 45, accumulator="int24"),
])
def test_unknown_precisions_are_refused_naming_the_allowed_ones(call):
    with pytest.raises(InputError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and "unknown precision" in message
    assert "int4, int8, int16, int32, fp16, bf16, fp32" in message


@pytest.mark.parametrize("dram_type", ["DDR4", "DDR5", "LPDDR5", "hbm2", "HBM4", ""])
def test_unknown_dram_types_are_refused_naming_the_allowed_ones(dram_type):
    with pytest.raises(InputError) as err:
        tech.dram_cost(dram_type)
    message = str(err.value)
    assert "\n" not in message and repr(dram_type) in message
    assert all(t in message for t in tech.dram_types())


@pytest.mark.parametrize(("call", "text"), [
    (lambda: tech.int_precision(12), "allowed widths: 4, 8, 16, 32"),
    (lambda: tech.vector_cost("exp", "int8", 45), "needs a floating-point precision"),
    (lambda: tech.vector_cost("tanh", "fp16", 45), "allowed: add, multiply, exp, rsqrt"),
    (lambda: tech.index_decode_cost("coo", 8, 45), "allowed: csr, csc, bitmask"),
    (lambda: tech.index_decode_cost("csr", 8, 45), "csr pointer width None"),
    (lambda: tech.index_decode_cost("bitmask", 8, 45, pointer_bits=16), "has no pointers"),
    (lambda: tech.index_decode_cost("csc", 0, 45, pointer_bits=16), "index width 0"),
    (lambda: tech.register_cost(65, 45), "register width 65"),
    (lambda: tech.mac_cost("int16", 45), "no sourced default accumulator"),
    (lambda: tech.mac_cost("int32", 45, accumulator="int8"), "cannot hold int32 products"),
    (lambda: tech.mac_cost("fp16", 45, accumulator="int32"), "cannot hold fp16 products"),
])
def test_other_bad_input_is_refused_in_one_line(call, text):
    with pytest.raises(InputError) as err:
        call()
    assert "\n" not in str(err.value) and text in str(err.value)


def test_every_table_entry_has_a_source_and_a_unit():
    table = entries()
    assert len(table) > 30
    for e in table.values():
        assert e.source.strip() and e.unit.strip(), e.name
        assert e.value > 0 and math.isfinite(e.value), e.name
    raw_scaling = yaml.safe_load(scaling.DATA_FILE.read_text())
    for name in ("source", "energy_factor", "nominal_vdd_v", "area_factor"):
        source = raw_scaling[name] if name == "source" else raw_scaling[name]["source"]
        assert "Stillmaker" in source or "Predictive Technology Model" in source, name
    for section in ("formats", "accumulation"):
        for name, row in raw_table("arithmetic.yaml")[section].items():
            assert row["source"].strip(), (section, name)


def test_derived_entries_state_their_rule_and_match_it():
    table = entries()
    derived = [e for e in table.values() if e.derived]
    assert {e.name for e in derived} >= {"multiply.int4.energy", "add.bf16.energy", "multiply.bf16.area",
                                         "leakage.density"}
    for e in derived:
        assert e.derived.strip() and e.derived_from, e.name
        if e.factor is not None:
            (src,) = e.derived_from
            assert e.value == pytest.approx(table[src].value * e.factor, rel=1e-3), e.name
    power = sum(table[n].value for n in table["leakage.density"].derived_from if n.endswith(".power"))
    area = sum(table[n].value for n in table["leakage.density"].derived_from if n.endswith(".area"))
    assert table["leakage.density"].value == pytest.approx(power / (area * 1e-6), rel=1e-4)


def test_the_width_rules_hold_on_horowitz_own_numbers():
    # The stated checks: multiply ~ width^2 and add ~ width, 8 -> 32 bits, within 20%.
    assert 0.2 * (32 / 8) ** 2 == pytest.approx(3.1, rel=0.05)
    assert 0.03 * 32 / 8 == pytest.approx(0.1, rel=0.2)
    twelve = tech.int_operator_cost("add", 12, 45, vdd_v=0.9)
    assert twelve.energy_pj == pytest.approx(0.03 * 12 / 8) and twelve.area_um2 == pytest.approx(36 * 12 / 8)
    assert tech.int_operator_cost("multiply", 16, 45).energy_pj == tech.operator_cost("multiply", "int16", 45).energy_pj


def test_dram_entries_state_scope_standard_source_and_interface_share():
    for name in tech.dram_types():
        cost = tech.dram_cost(name)
        assert cost.read_pj_per_bit > 0 and cost.write_pj_per_bit > 0
        assert cost.scope and cost.standard and cost.source, name
        if cost.breakdown is not None:
            total = sum(v for _, v in cost.breakdown)
            assert total == pytest.approx(cost.read_pj_per_bit, rel=1e-3), name
            assert cost.interface_share == pytest.approx(dict(cost.breakdown)["io"] / total, abs=1e-3), name
    hbm2 = tech.dram_cost("HBM2")
    assert hbm2.read_pj_per_bit == 3.97 and hbm2.interface_share == pytest.approx(0.0554)
    assert {"HBM2", "HBM2E", "HBM3", "GDDR6", "LPDDR4"} <= set(tech.dram_types())


def test_vector_functions_count_their_operations():
    assert [tech.exp_polynomial_degree(p) for p in (8, 11, 24)] == [3, 4, 7]
    assert [tech.rsqrt_newton_steps(p) for p in (8, 11, 24)] == [1, 2, 3]
    add = tech.operator_cost("add", "fp32", 16)
    mul = tech.operator_cost("multiply", "fp32", 16)
    exp8 = tech.int_operator_cost("add", 8, 16)
    exp = tech.vector_cost("exp", "fp32", 16)
    assert (exp.multiplies, exp.adds, exp.int_adds, exp.int_add_bits) == (8, 8, 1, 8)
    assert exp.energy_pj == pytest.approx(8 * mul.energy_pj + 8 * add.energy_pj + exp8.energy_pj)
    assert exp.area_um2 == pytest.approx(mul.area_um2 + add.area_um2 + exp8.area_um2)
    rsqrt = tech.vector_cost("rsqrt", "bf16", 16)
    assert (rsqrt.multiplies, rsqrt.adds, rsqrt.int_add_bits) == (4, 1, 16)
    assert tech.vector_cost("add", "fp16", 16).energy_pj == tech.operator_cost("add", "fp16", 16).energy_pj
    assert any("Lomont" in s for s in rsqrt.sources)


def test_index_decode_is_its_own_action_built_from_register_and_adder():
    csr = tech.index_decode_cost("csr", 12, 7, pointer_bits=20)
    reg12, add12 = tech.register_cost(12, 7), tech.int_operator_cost("add", 12, 7)
    assert csr.per_entry_pj == pytest.approx(reg12.energy_pj + add12.energy_pj)
    assert csr.per_pointer_pj > csr.per_entry_pj > 0
    bitmask = tech.index_decode_cost("bitmask", 5, 7)
    assert bitmask.per_pointer_pj == 0.0
    assert bitmask.per_entry_pj == pytest.approx(tech.register_cost(1, 7).energy_pj
                                                 + tech.int_operator_cost("add", 5, 7).energy_pj)


def test_register_leakage_and_costs_scale_down_with_the_node():
    assert tech.register_cost(8, 7).pj_per_bit < tech.register_cost(8, 45).pj_per_bit
    assert tech.mac_cost("int8", 7).energy_pj < tech.mac_cost("int8", 28).energy_pj < tech.mac_cost("int8", 45).energy_pj
    assert tech.logic_leakage(40).mw_per_mm2 == pytest.approx(11.775)
    assert 5 < tech.logic_leakage(7).mw_per_mm2 < 20
    assert tech.int_precision(8) == "int8"


def test_a_table_entry_with_an_unknown_key_is_refused(tmp_path):
    from simulator.energy.techdata import _entry
    raw = {"value": 1.0, "unit": "pJ", "node_nm": 45, "vdd_v": None, "source": "x", "Jouppi et al.": None}
    with pytest.raises(InputError, match="unknown keys"):
        _entry(tmp_path / "t.yaml", "add.int8.energy", raw)
