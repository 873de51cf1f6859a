"""SCALE-Sim 3.0.0's own .cfg and topology .csv files: read like SCALE-Sim reads them, strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scalesim.files import (
    MAX_FILE_BYTES,
    Gemm,
    ScaleSimConfig,
    conv_to_gemm,
    read_gemm_topology,
    read_scalesim_config,
)
from workloads.errors import InputError

# SCALE-Sim's shipped configs/scale.cfg, retyped (keys in its mixed case, ':' and '=' both used).
SCALE_CFG = """\
[general]
run_name = scale_example_run_32x32_ws

[architecture_presets]
ArrayHeight:    32
ArrayWidth:     32
IfmapSramSzkB:   64
FilterSramSzkB:  64
OfmapSramSzkB:   64
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : os
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 100
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 100
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

GEMM_CSV = "Layer,M,N,K,\nqkv_1,128,1536,512,\n\n attn_score_1 , 512 , 128 , 128 , \nmlp_down_1,128,512,768,1:1,\n"


def write(tmp_path: Path, text: str, name: str = "x.cfg") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def one_line_error(fn, path: Path, *fragments: str) -> str:
    """Call fn(path), expect InputError; its message is one line naming the path and fragments."""
    with pytest.raises(InputError) as e:
        fn(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


# ------------------------------------------------------------------------------ config


def test_shipped_scale_cfg_reads_as_scalesim_does(tmp_path):
    cfg = read_scalesim_config(write(tmp_path, SCALE_CFG))
    assert cfg == ScaleSimConfig(
        run_name="scale_example_run_32x32_ws", array_rows=32, array_cols=32,
        ifmap_sram_kb=64, filter_sram_kb=64, ofmap_sram_kb=64,
        ifmap_offset=0, filter_offset=10_000_000, ofmap_offset=20_000_000, dataflow="os",
        read_request_buffer=32, write_request_buffer=32, bandwidth_mode="CALC", bandwidths=(),
        ifmap_sram_bank_bandwidth=100, ifmap_sram_bank_num=10, ifmap_sram_bank_port=2,
        filter_sram_bank_bandwidth=100, filter_sram_bank_num=10, filter_sram_bank_port=2,
    )
    # CALC: SCALE-Sim reads ifmap/filter from DRAM at 10 words/cycle, writes ofmap at ArrayWidth.
    assert (cfg.ifmap_dram_read_bw, cfg.filter_dram_read_bw, cfg.ofmap_dram_write_bw) == (10, 10, 32)


def test_user_mode_bandwidths_come_from_layout_and_bandwidth(tmp_path):
    text = SCALE_CFG.replace("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER")
    text = text.replace("Bandwidth : 10", "Bandwidth : 7, 3").replace("FilterSRAMBankBandwidth: 100", "FilterSRAMBankBandwidth: 20")
    cfg = read_scalesim_config(write(tmp_path, text))
    assert cfg.bandwidths == (7, 3)
    assert (cfg.ifmap_dram_read_bw, cfg.filter_dram_read_bw, cfg.ofmap_dram_write_bw) == (100, 20, 7)


@pytest.mark.parametrize("old,new,fragments", [
    ("[layout]", "[layoutx]", ("[layoutx]", "unknown section")),
    ("ArrayWidth:     32\n", "", ("[architecture_presets] ArrayWidth", "missing key", "positive integer")),
    ("Dataflow : os", "Dataflow : xs", ("[architecture_presets] Dataflow", "one of os, ws, is", "'xs'")),
    ("Dataflow : os", "Dataflow : WS", ("Dataflow", "case-sensitive", "'WS'")),
    ("ArrayHeight:    32", "ArrayHeight:    32.5", ("[architecture_presets] ArrayHeight", "positive integer", "'32.5'")),
    ("ArrayHeight:    32", "ArrayHeight:    0", ("ArrayHeight", "positive integer", "'0'")),
    ("IfmapOffset:    0", "IfmapOffset:    -1", ("IfmapOffset", "integer >= 0", "'-1'")),
    ("Dataflow : os", "Dataflow : os ; inline comment", ("Dataflow", "'os ; inline comment'")),
    ("InterfaceBandwidth: CALC", "InterfaceBandwidth: user", ("[run_presets] InterfaceBandwidth", "USER, CALC")),
    ("UseRamulatorTrace: False", "UseRamulatorTrace: True", ("UseRamulatorTrace", "not supported")),
    ("UseRamulatorTrace: False", "UseRamulatorTrace: false", ("UseRamulatorTrace", "True, False")),
    ("SparsitySupport : false", "SparsitySupport : true", ("[sparsity] SparsitySupport", "not supported")),
    ("IfmapCustomLayout: False", "IfmapCustomLayout: True", ("[layout] IfmapCustomLayout", "not supported")),
    ("IfmapCustomLayout: False", "IfmapCustomLayout: maybe", ("IfmapCustomLayout", "True or False")),
    ("MemoryBanks:   1", "MemoryBanks:   4", ("MemoryBanks", "expected 1", "'4'")),
    ("MemoryBanks:   1", "MemoryBanks:   1\nColour: red", ("[architecture_presets] colour", "not a key")),
    ("run_name = scale", "run_name = 100% scale", ("[general] run_name", "%%")),
    ("run_name = scale_example_run_32x32_ws", "run_name =", ("[general] run_name", "non-empty")),
    ("ArrayHeight:    32", "ArrayHeight:    " + "9" * 5000, ("ArrayHeight", "positive integer")),
    ("[general]\n", "[general]\n[general]\n", ("[general]", "once")),
    ("[general]\n", "", ("line 1", "[section] header")),
    ("Dataflow : os", "Dataflow", ("line", "key = value")),
    ("[run_presets]", "[network_presets]\nTopologyCsvLoc: \"t.csv\"\n[run_presets]", ("[network_presets]", "not supported")),
])
def test_bad_config_is_one_line_naming_section_key_and_value(tmp_path, old, new, fragments):
    assert old in SCALE_CFG
    one_line_error(read_scalesim_config, write(tmp_path, SCALE_CFG.replace(old, new, 1)), *fragments)


def test_missing_section(tmp_path):
    start, end = SCALE_CFG.index("[layout]"), SCALE_CFG.index("[sparsity]")
    path = write(tmp_path, SCALE_CFG[:start] + SCALE_CFG[end:])
    one_line_error(read_scalesim_config, path, "[layout]", "missing section")


@pytest.mark.parametrize("bw,got", [("", "''"), ("10,", "''"), ("10, x", "'x'"), ("0", "'0'")])
def test_user_mode_needs_positive_bandwidths(tmp_path, bw, got):
    text = SCALE_CFG.replace("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER").replace("Bandwidth : 10", f"Bandwidth : {bw}")
    one_line_error(read_scalesim_config, write(tmp_path, text), "[architecture_presets] Bandwidth", got)


def test_user_mode_without_bandwidth_key(tmp_path):
    text = SCALE_CFG.replace("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER").replace("Bandwidth : 10\n", "")
    one_line_error(read_scalesim_config, write(tmp_path, text), "[architecture_presets] Bandwidth", "missing key")


# ------------------------------------------------------------------------------ files


@pytest.mark.parametrize("reader", [read_scalesim_config, read_gemm_topology])
def test_directory_missing_binary_and_huge_files(tmp_path, reader):
    one_line_error(reader, tmp_path, "regular file", "directory")
    one_line_error(reader, tmp_path / "nope", "not found")
    latin1 = tmp_path / "latin1"
    latin1.write_bytes(b"Layer,M,N,K,\nq\xe9,1,2,3,\n")
    one_line_error(reader, latin1, "UTF-8", "offset 14")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\x00\x01\x02Layer,M,N,K,\n")
    one_line_error(reader, binary, "NUL byte")
    huge = tmp_path / "huge"
    huge.write_text("#" * (MAX_FILE_BYTES + 1))
    one_line_error(reader, huge, "at most")


# ------------------------------------------------------------------------------ topology


def test_gemm_topology_with_trailing_commas_and_blank_lines(tmp_path):
    layers = read_gemm_topology(write(tmp_path, GEMM_CSV, "t.csv"))
    assert layers == [Gemm("qkv_1", 128, 1536, 512), Gemm("attn_score_1", 512, 128, 128), Gemm("mlp_down_1", 128, 512, 768)]


def test_crlf_line_ends(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"Layer, M, N, K,\r\na,1,2,3,\r\n")
    assert read_gemm_topology(path) == [Gemm("a", 1, 2, 3)]


@pytest.mark.parametrize("row,fragments", [
    ("a,64,,128,", ("line 2", "column 3 is empty")),                      # trailing comma in the wrong place
    ("a,64,128,256", ("line 2", "end with ','", "'256'")),                # SCALE-Sim would drop K
    ("a,64,128,", ("line 2", "expected 4 columns", "got 3")),             # missing column
    ("a,64,128,256,1:1,9,", ("line 2", "got 6")),
    ("a,0,128,256,", ("line 2", "M: expected a positive integer", "'0'")),
    ("a,64,-3,256,", ("line 2", "N:", "'-3'")),
    ("a,64,128,2.5e2,", ("line 2", "K:", "'2.5e2'")),
    ("a,64,128,256,2:4,", ("line 2", "N:M sparsity", "'2:4'")),
    ("a,64,128,256,\nb,1,1,1,\na,1,1,1,", ("line 4", "duplicate layer name 'a'", "line 2")),
])
def test_bad_gemm_rows(tmp_path, row, fragments):
    one_line_error(read_gemm_topology, write(tmp_path, f"Layer,M,N,K,\n{row}\n", "t.csv"), *fragments)


@pytest.mark.parametrize("text", ["", "\n\n  \n", "Layer,M,N,K,\n", "Layer,M,N,K,\n\n\n"])
def test_empty_topology(tmp_path, text):
    one_line_error(read_gemm_topology, write(tmp_path, text, "t.csv"), "empty topology")


def test_header_must_say_gemm_or_conv(tmp_path):
    path = write(tmp_path, "Layer,M,K,N,\na,1,2,3,\n", "t.csv")
    one_line_error(read_gemm_topology, path, "line 1", "GEMM header", "'Layer,M,K,N,'")


CONV_CSV = """\
Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
Conv1, 224, 224, 3, 3, 3, 32, 2,
Conv2_dw, 112, 112, 3, 3, 1, 1, 1,#dw
FC, 1, 1, 1, 1, 1024, 1000, 1,
CONV_DP, 8, 8, 3, 3, 2, 1, 1,
"""


def test_conv_topology_becomes_gemms_as_scalesim_converts_it(tmp_path):
    layers = read_gemm_topology(write(tmp_path, CONV_CSV, "c.csv"))
    assert layers == [
        Gemm("Conv1", 112 * 112, 32, 27),       # ceil((224 - 3 + 2) / 2) = 112, not floor's 111
        Gemm("Conv2_dw", 110 * 110, 1, 9),
        Gemm("FC", 1, 1000, 1024),
        Gemm("CONV_DPChannel_0", 36, 1, 9),     # 'DP' in the name: one layer per channel
        Gemm("CONV_DPChannel_1", 36, 1, 9),
    ]
    assert conv_to_gemm("c", 7, 7, 3, 3, 4, 5, 2) == [Gemm("c", 9, 5, 36)]
    assert conv_to_gemm("c", 8, 6, 3, 3, 1, 1, 2) == [Gemm("c", 4 * 3, 1, 9)]  # ceil(7/2)=4, ceil(5/2)=3


def test_conv_filter_larger_than_ifmap(tmp_path):
    path = write(tmp_path, CONV_CSV.splitlines()[0] + "\nbad, 2, 2, 3, 3, 1, 1, 1,\n", "c.csv")
    one_line_error(read_gemm_topology, path, "line 2", "filter (3 x 3)", "ifmap (2 x 2)")
