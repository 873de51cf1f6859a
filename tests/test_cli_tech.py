"""`sslcsim tech`, run in-process: each subcommand's value against the tables and rules it
reads (Horowitz's int8 multiply moved to 45 nm nominal supply by the Stillmaker-Baas
polynomial written out here, O'Connor et al.'s HBM2 3.97 pJ/bit, CACTI's SRAM through
costs.buffer_sram), JSON and table output, and bad input as one line with exit code 2."""

from __future__ import annotations

import json

import pytest

from simulator.energy import costs, scaling, sram, tech
from sslcsim.cli import main
from sslcsim.commands import tech as tech_cmd


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["tech", *argv])
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 0 and err == "", err
    return json.loads(out)


def horowitz_45nm_factor(vdd_v: float) -> float:
    """Stillmaker-Baas F(45 nm, V) = a V^2 + b V + c, Table 5's 45 nm row (energy_tables.md)."""
    return 1.018 * vdd_v ** 2 - 0.3107 * vdd_v + 0.1539


def test_help_choices_match_the_tables():
    assert tech_cmd.PRECISIONS == tech.PRECISIONS
    assert tech_cmd.VECTOR_FUNCTIONS == tech.VECTOR_FUNCTIONS
    assert tech_cmd.INDEX_FORMATS == tech.INDEX_FORMATS


def test_mac_int8_at_45nm_nominal_supply_is_horowitz_scaled(capsys):
    got = run_json(capsys, "mac", "--precision", "int8", "--node", "45")
    want = 0.2 * horowitz_45nm_factor(1.0) / horowitz_45nm_factor(0.9)
    assert got["values"]["multiply_pj"] == pytest.approx(want, rel=1e-9)
    assert got["values"]["multiply_pj"] == pytest.approx(0.24646, rel=1e-4)
    assert got["inputs"] == {"precision": "int8", "accumulator": "int32", "node_nm": 45.0, "vdd_v": None}
    v = got["values"]
    assert v["energy_pj"] == pytest.approx(v["multiply_pj"] + v["add_pj"] + v["accumulator_pj"])
    assert any("Horowitz" in s for s in got["sources"])
    assert any("Stillmaker" in s for s in got["sources"])


def test_mac_at_horowitz_supply_is_horowitz_exactly(capsys):
    got = run_json(capsys, "mac", "--precision", "int8", "--node", "45", "--vdd", "0.9")
    assert got["values"]["multiply_pj"] == pytest.approx(0.2, rel=1e-12)
    assert got["values"]["add_pj"] == pytest.approx(0.1, rel=1e-12)  # the int32 accumulator's add


def test_mac_table_names_values_units_and_sources(capsys):
    code, out, err = run_cli(capsys, "mac", "--precision", "fp16", "--node", "7")
    assert code == 0 and err == ""
    m = tech.mac_cost("fp16", 7)
    assert "fp32 accumulator" in out and "7 nm" in out
    assert f"{m.multiply_pj:.6g} pJ" in out and f"{m.area_um2:.6g} um^2" in out
    assert "sources:" in out and "Horowitz" in out


def test_dram_hbm2_prints_pj_per_bit_and_source(capsys):
    code, out, err = run_cli(capsys, "dram", "--type", "HBM2")
    assert code == 0 and err == ""
    assert "3.97 pJ/bit" in out
    assert "Fine-Grained DRAM" in out and "JESD235" in out
    got = run_json(capsys, "dram", "--type", "HBM2")
    assert got["values"]["read_pj_per_bit"] == 3.97 and got["values"]["write_pj_per_bit"] == 3.97
    assert got["sources"] == [tech.dram_cost("HBM2").source]


def test_dram_list_has_every_type(capsys):
    got = run_json(capsys, "dram", "--list")
    assert [t["dram_type"] for t in got["types"]] == list(tech.dram_types())
    assert {t["dram_type"]: t["read_pj_per_bit"] for t in got["types"]}["DDR3"] == 70.0


def test_vector_decode_and_leakage_are_the_tables(capsys):
    v = run_json(capsys, "vector", "--function", "rsqrt", "--precision", "fp32", "--node", "28")
    want = tech.vector_cost("rsqrt", "fp32", 28)
    assert v["values"]["energy_pj"] == want.energy_pj and v["values"]["multiplies"] == 10  # 3 Newton steps
    d = run_json(capsys, "decode", "--format", "csr", "--index-bits", "12", "--pointer-bits", "32", "--node", "22")
    want_d = tech.index_decode_cost("csr", 12, 22, 32)
    assert (d["values"]["per_entry_pj"], d["values"]["per_pointer_pj"]) == (want_d.per_entry_pj,
                                                                            want_d.per_pointer_pj)
    b = run_json(capsys, "decode", "--format", "bitmask", "--index-bits", "6", "--node", "22")
    assert "per_pointer_pj" not in b["values"]
    lk = run_json(capsys, "leakage", "--node", "40")
    assert lk["values"]["mw_per_mm2"] == pytest.approx(11.78, rel=1e-3)  # Aladdin's 40 nm density


@pytest.mark.parametrize("argv, words", [
    (("dram", "--type", "HBM9"), "unknown DRAM type 'HBM9'"),
    (("mac", "--precision", "int8", "--node", "5"), "outside the scaling range 7-180 nm"),
    (("mac", "--precision", "int8", "--node", "500"), "outside the scaling range 7-180 nm"),
    (("leakage", "--node", "-5"), "outside the scaling range"),
    (("mac", "--precision", "int8", "--node", "nan"), "not a number of nm"),
    (("sram", "--kib", "-1", "--width", "64", "--node", "45"), "--kib -1: expected a positive number"),
    (("sram", "--kib", "inf", "--width", "64", "--node", "45"), "--kib inf"),
    (("sram", "--kib", "8", "--width", "0", "--node", "45"), "--width 0"),
    (("sram", "--kib", "8", "--width", "64", "--banks", "-2", "--node", "45"), "--banks -2"),
    (("mac", "--precision", "int8", "--node", "45", "--vdd", "-0.9"), "--vdd -0.9"),
    (("mac", "--precision", "int9", "--node", "45"), "invalid choice: 'int9'"),
    (("mac", "--precision", "int16", "--node", "45"), "no sourced default accumulator"),
    (("vector", "--function", "exp", "--precision", "int8", "--node", "45"), "floating-point precision"),
    (("decode", "--format", "csr", "--index-bits", "12", "--node", "22"), "needs --pointer-bits"),
    (("decode", "--format", "csc", "--index-bits", "-3", "--pointer-bits", "8", "--node", "22"), "index width -3"),
    (("dram",), "one of the arguments --type --list is required"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sslcsim: error:") and words in err


needs_sram_table = pytest.mark.skipif(not sram.TABLE_PATH.exists(),
                                      reason="simulator/energy/data/sram_cacti.csv not generated yet")


@needs_sram_table
def test_sram_at_a_cacti_node_is_cactis_grid_point(capsys):
    got = run_json(capsys, "sram", "--kib", "64", "--width", "64", "--banks", "4", "--node", "45")
    c = sram.sram_cost(64, 64, 4, 45.0)
    assert got["values"]["read_pj"] == c.read_pj and got["values"]["area_mm2"] == c.area_mm2
    assert got["values"]["read_pj_per_bit"] == pytest.approx(c.read_pj / 64)
    assert got["sources"] == [c.source] and "CACTI" in c.source and "grid point" in c.source


@needs_sram_table
def test_sram_between_cacti_nodes_is_scaled_from_the_nearest(capsys):
    got = run_json(capsys, "sram", "--kib", "64", "--width", "64", "--banks", "4", "--node", "28")
    c = sram.sram_cost(64, 64, 4, 32.0)  # 32 nm is the nearest CACTI node to 28
    e = scaling.energy_factor(28) / scaling.energy_factor(32)
    a = scaling.relative_area(28) / scaling.relative_area(32)
    assert got["values"]["read_pj"] == pytest.approx(c.read_pj * e, rel=1e-12)
    assert got["values"]["area_mm2"] == pytest.approx(c.area_mm2 * a, rel=1e-12)
    assert "scaled 32 -> 28 nm" in got["sources"][0]
    code, out, err = run_cli(capsys, "sram", "--kib", "64", "--width", "64", "--banks", "32", "--node", "22")
    assert code == 0 and "2 x (" in out  # 32 banks: two 16-bank SRAMs (costs.buffer_sram)
    assert costs.MAX_TABLE_BANKS == 16


@needs_sram_table
def test_sram_outside_the_table_is_one_line(capsys):
    code, out, err = run_cli(capsys, "sram", "--kib", "8", "--width", "64", "--banks", "3", "--node", "45")
    assert code == 2 and out == "" and err.count("\n") == 1 and "banks" in err
