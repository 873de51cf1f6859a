"""Hardware configs: the shipped ones load; bad ones give one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from simulator.config import load_hw, parse_hw
from simulator.memory.dram import memory_spec
from workloads.errors import InputError

HW = Path(__file__).resolve().parents[2] / "hwconfigs"


@pytest.mark.parametrize("path", sorted(HW.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    hw = load_hw(path)
    assert hw.name == path.stem


def base() -> dict:
    return yaml.safe_load((HW / "vitcod.yaml").read_text())


@pytest.mark.parametrize("mutate,key,words", [
    (lambda d: d.pop("clock_mhz"), "clock_mhz", "missing"),
    (lambda d: d["sparser_engine"].update(colour="red"), "sparser_engine.colour", "unknown key"),
    (lambda d: d["buffers"].update(weight_kib=-3), "buffers.weight_kib", "> 0"),
    (lambda d: d["denser_engine"].update(dataflow="xy"), "denser_engine.dataflow", "one of"),
    (lambda d: d["dram"].update(bandwidth_gbps=0), "dram.bandwidth_gbps", ">= 0.001"),
    (lambda d: d["dram"].update(bandwidth_gbps=1e-7), "dram.bandwidth_gbps", ">= 0.001"),
    (lambda d: d["split"].update(density_threshold=1.5), "split.density_threshold", "<= 1"),
])
def test_bad_keys_name_the_key_value_and_range(mutate, key, words):
    d = base()
    mutate(d)
    with pytest.raises(InputError) as e:
        parse_hw(d, "x.yaml")
    msg = str(e.value)
    assert "\n" not in msg and "x.yaml" in msg and key in msg and words in msg


def test_shared_width_needs_one_array_of_lines():
    d = base()
    d["denser_engine"]["kind"] = "systolic"
    with pytest.raises(InputError, match="shared_width"):
        parse_hw(d, "x.yaml")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_hw(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("clock_mhz: [1, 2\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_hw(bad)


def test_dram_cycles_are_exact_integers():
    hw = load_hw(HW / "vitcod.yaml")  # 500 MHz, 76.8 GB/s: 153.6 bytes per cycle
    m = memory_spec(hw)
    assert len(m.num) == 1 and (1536 * m.num[0] + m.den[0] - 1) // m.den[0] == 10
    four = memory_spec(hw.model_copy(update={"dram": hw.dram.model_copy(update={"channels": 4})}))
    assert len(four.num) == 4 and (1536 * four.num[0] + four.den[0] - 1) // four.den[0] == 40  # 19.2 GB/s each
    assert hw.dram_latency_cycles == 50  # 100 ns at 500 MHz


@pytest.mark.parametrize("mutate,words", [
    (lambda d: d["dram"].pop("bandwidth_gbps"), "exactly one of dram.bandwidth_gbps"),
    (lambda d: d["dram"].update(ports={"weight_gbps": 1, "input_gbps": 1, "output_gbps": 1}), "exactly one of"),
    (lambda d: (d["dram"].pop("bandwidth_gbps"), d["dram"].update(
        channels=4, ports={"weight_gbps": 1, "input_gbps": 1, "output_gbps": 1})), "dram.channels"),
    (lambda d: d["dram"].update(channels=0), "dram.channels"),
    (lambda d: d["sparser_engine"].update(mapping="sometimes"), "sparser_engine.mapping"),
])
def test_memory_and_mapping_keys_are_checked(mutate, words):
    d = base()
    mutate(d)
    with pytest.raises(InputError) as e:
        parse_hw(d, "x.yaml")
    assert "\n" not in str(e.value) and words in str(e.value)


def test_channel_bytes_deal_chunks_round_robin_and_continue():
    from simulator.memory.dram import channel_bytes
    out = np.zeros(4, np.int64)
    # 1000 bytes in 256-byte chunks from channel 2: chunks on 2, 3, 0, 1 (the last one 232 bytes)
    assert channel_bytes(1000, 2, 4, 256, out) == 2
    assert out.tolist() == [256, 232, 256, 256]
    assert channel_bytes(1300, 2, 4, 256, out) == 0  # 6 chunks: 2, 3, 0, 1, 2, 3 (the last 20 bytes)
    assert out.tolist() == [256, 256, 512, 276]


@pytest.mark.parametrize("mutate,key,words", [
    (lambda d: d["denser_engine"].update(rows=True), "denser_engine.rows", "valid integer"),  # YAML true is not 1
    (lambda d: d["denser_engine"].update(rows="64"), "denser_engine.rows", "valid integer"),  # nor is '64'
    (lambda d: d["dram"].update(bandwidth_gbps="76.8"), "dram.bandwidth_gbps", "valid number"),
    (lambda d: d["buffers"].update(double_buffering=1), "buffers.double_buffering", "valid boolean"),
    (lambda d: d.update(energy={"mac_pj": float("inf"), "sram_pj_per_byte": 1.0, "dram_pj_per_byte": 1.0}),
     "energy.mac_pj", "finite"),
])
def test_no_coercion_and_no_infinities(mutate, key, words):
    d = base()
    mutate(d)
    with pytest.raises(InputError) as e:
        parse_hw(d, "x.yaml")
    msg = str(e.value)
    assert "\n" not in msg and key in msg and words in msg


def test_yaml_text_that_is_not_a_config(tmp_path):
    text = (HW / "vitcod.yaml").read_text()
    dup = tmp_path / "dup.yaml"
    dup.write_text(text + "sparser_engine:\n  lines: 8\n  macs_per_line: 8\n")  # a section given twice
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: \xff\xfe\x00bad\n")
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    for path, words in ((dup, "duplicate key 'sparser_engine'"), (binary, "not UTF-8"), (tmp_path, "not a regular file"),
                        (deep, "")):
        with pytest.raises(InputError) as e:
            load_hw(path)
        assert "\n" not in str(e.value) and str(path) in str(e.value) and words in str(e.value)


def test_docs_list_every_key_as_required_or_with_its_default():
    from simulator.config import key_defaults

    doc = (HW.parent / "docs" / "hardware-config.md").read_text()
    table = doc[doc.index("## Required keys and defaults"):]
    for key, shown in key_defaults():
        assert f"| `{key}` | {shown} |" in table, key


def test_hw_show_prints_the_resolved_config(capsys, tmp_path):
    from sslcsim.cli import main

    d = base()
    del d["denser_engine"]["packing"], d["split"]  # defaulted keys appear resolved
    p = tmp_path / "h.yaml"
    p.write_text(yaml.safe_dump(d))
    assert main(["hw", "show", str(p)]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["denser_engine"]["packing"] is True and shown["split"] == {"policy": "fixed", "density_threshold": 1.0}
    assert parse_hw(shown, "shown") == parse_hw(d, "given")
    del d["denser_engine"]["kind"]  # a dropped required key is an error, never a default
    p.write_text(yaml.safe_dump(d))
    assert main(["hw", "show", str(p)]) == 2
    assert "denser_engine.kind" in capsys.readouterr().err


def test_a_huge_yaml_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: [" + "1, " * 600_000 + "1]\n")  # ~1.8 MB: parsing it would take many seconds
    with pytest.raises(InputError, match="over 1 MB"):
        load_hw(big)
