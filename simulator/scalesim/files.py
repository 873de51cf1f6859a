"""Read SCALE-Sim 3.0.0's own input files: its config (.cfg) and its topologies (.csv).

The formats are SCALE-Sim 3.0.0's (the `scalesim` wheel on PyPI: `scale_config.py`,
`topology_utils.py`, `single_layer_sim.py`), read with the same semantics (configparser
for the config, "drop the field after the last comma" for the CSV) but strictly: every
value SCALE-Sim would misread, ignore while it matters, or crash on is an `InputError` with
one line that names the file, the section/key or line, what was expected and what was
found. Features of SCALE-Sim that this project does not model (sparsity, custom SRAM
layouts, Ramulator traces, N:M sparse layers) are rejected when switched on.

SCALE-Sim 3.0.0 quirks kept or made explicit here:
- Config keys are case-insensitive (configparser), section names are not; `key: value` and
  `key = value` both work; `;`/`#` after a value is part of the value (no inline comments).
- `[layout]`, `[sparsity]`, `ReadRequestBuffer`, `WriteRequestBuffer` and
  `UseRamulatorTrace` are mandatory in 3.0.0 (it calls `config.get` on them unguarded).
- `Bandwidth` is read from `[architecture_presets]`, and only in USER mode; only its first
  value is used (as the ofmap DRAM write bandwidth). The ifmap and filter DRAM read
  bandwidths in USER mode are `[layout] IfmapSRAMBankBandwidth` and
  `FilterSRAMBankBandwidth`, not `Bandwidth`. In CALC mode SCALE-Sim uses 10, 10 and
  ArrayWidth words/cycle and estimates the bandwidth instead.
- `InterfaceBandwidth` must be exactly `USER` or `CALC` (else 3.0.0 returns a config it
  marks invalid, silently); `Dataflow` must be lower-case `os`/`ws`/`is` (else a warning);
  `UseRamulatorTrace` is true only for the exact string `True`.
- A `[network_presets]` section makes 3.0.0 look `TopologyCsvLoc` up in
  `[architecture_presets]`; it is rejected here. `MemoryBanks` is never read (always 1 bank).
- Topology CSV: the first line is a header and is skipped unread, blank lines are skipped,
  and each row is split on ',' with the last piece dropped: rows must end with a comma, and
  a row without one loses its last column.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
from dataclasses import dataclass
from typing import Literal

from workloads.errors import InputError

MAX_FILE_BYTES = 1024 * 1024
"""Largest config or topology file accepted (1 MiB); SCALE-Sim's own are under 2 KB."""

Dataflow = Literal["os", "ws", "is"]
BandwidthMode = Literal["USER", "CALC"]

_DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")
_CALC_READ_BW_WORDS_PER_CYCLE = 10
"""SCALE-Sim 3.0.0's ifmap/filter DRAM read bandwidth in CALC mode (single_layer_sim.py)."""

# Keys SCALE-Sim 3.0.0 accepts per section (lower-case: configparser folds keys).
# Sparsity keys other than SparsitySupport are read only when sparsity is on.
_KNOWN_KEYS: dict[str, frozenset[str]] = {
    "general": frozenset({"run_name"}),
    "architecture_presets": frozenset({
        "arrayheight", "arraywidth", "ifmapsramszkb", "filtersramszkb", "ofmapsramszkb",
        "ifmapoffset", "filteroffset", "ofmapoffset", "dataflow", "bandwidth",
        "readrequestbuffer", "writerequestbuffer", "memorybanks",
    }),
    "layout": frozenset({
        "ifmapcustomlayout", "ifmapsrambankbandwidth", "ifmapsrambanknum", "ifmapsrambankport",
        "filtercustomlayout", "filtersrambankbandwidth", "filtersrambanknum", "filtersrambankport",
    }),
    "sparsity": frozenset({
        "sparsitysupport", "sparserep", "optimizedmapping", "blocksize", "randomnumbergeneratorseed",
    }),
    "run_presets": frozenset({"interfacebandwidth", "useramulatortrace"}),
}


@dataclass(frozen=True)
class ScaleSimConfig:
    """A SCALE-Sim 3.0.0 configuration, as its `scale_config.read_conf_file` reads it.

    SCALE-Sim's word is 1 byte (`word_size = 1` in single_layer_sim.py), so "words" below
    are bytes and an SRAM of S KB holds 1024 * S words.

    Fields (unit; .cfg key that feeds it):
    - run_name: str; [general] run_name.
    - array_rows: PEs; [architecture_presets] ArrayHeight.
    - array_cols: PEs; [architecture_presets] ArrayWidth.
    - ifmap_sram_kb / filter_sram_kb / ofmap_sram_kb: KiB (x1024 words) of each double-
      buffered SRAM, both halves together; [architecture_presets] IfmapSramSzkB /
      FilterSramSzkB / OfmapSramSzkB.
    - ifmap_offset / filter_offset / ofmap_offset: word addresses where each operand's
      trace addresses start; [architecture_presets] IfmapOffset / FilterOffset / OfmapOffset.
    - dataflow: 'os' | 'ws' | 'is'; [architecture_presets] Dataflow.
    - read_request_buffer / write_request_buffer: entries; [architecture_presets]
      ReadRequestBuffer / WriteRequestBuffer (mandatory in 3.0.0, used only with Ramulator).
    - bandwidth_mode: 'USER' | 'CALC'; [run_presets] InterfaceBandwidth.
    - bandwidths: words/cycle; [architecture_presets] Bandwidth, a comma-separated list,
      read only in USER mode (empty in CALC mode); SCALE-Sim uses only the first value,
      as the ofmap DRAM write bandwidth.
    - ifmap_sram_bank_bandwidth / filter_sram_bank_bandwidth: words/cycle; [layout]
      IfmapSRAMBankBandwidth / FilterSRAMBankBandwidth. Despite the names, in USER mode
      these are SCALE-Sim's ifmap / filter DRAM read bandwidths.
    - ifmap_sram_bank_num / filter_sram_bank_num: banks; [layout] IfmapSRAMBankNum /
      FilterSRAMBankNum.
    - ifmap_sram_bank_port / filter_sram_bank_port: ports per bank; [layout]
      IfmapSRAMBankPort / FilterSRAMBankPort.

    Read and required off (rejected otherwise): [layout] IfmapCustomLayout /
    FilterCustomLayout, [sparsity] SparsitySupport, [run_presets] UseRamulatorTrace;
    [architecture_presets] MemoryBanks, if present, must be 1 (3.0.0 ignores it).
    """

    run_name: str
    array_rows: int
    array_cols: int
    ifmap_sram_kb: int
    filter_sram_kb: int
    ofmap_sram_kb: int
    ifmap_offset: int
    filter_offset: int
    ofmap_offset: int
    dataflow: Dataflow
    read_request_buffer: int
    write_request_buffer: int
    bandwidth_mode: BandwidthMode
    bandwidths: tuple[int, ...]
    ifmap_sram_bank_bandwidth: int
    ifmap_sram_bank_num: int
    ifmap_sram_bank_port: int
    filter_sram_bank_bandwidth: int
    filter_sram_bank_num: int
    filter_sram_bank_port: int

    @property
    def ifmap_dram_read_bw(self) -> int:
        """Ifmap DRAM read bandwidth SCALE-Sim 3.0.0 uses, words/cycle.

        USER: [layout] IfmapSRAMBankBandwidth; CALC: 10 (and SCALE-Sim estimates the need).
        """
        if self.bandwidth_mode == "USER":
            return self.ifmap_sram_bank_bandwidth
        return _CALC_READ_BW_WORDS_PER_CYCLE

    @property
    def filter_dram_read_bw(self) -> int:
        """Filter DRAM read bandwidth SCALE-Sim 3.0.0 uses, words/cycle.

        USER: [layout] FilterSRAMBankBandwidth; CALC: 10 (and SCALE-Sim estimates the need).
        """
        if self.bandwidth_mode == "USER":
            return self.filter_sram_bank_bandwidth
        return _CALC_READ_BW_WORDS_PER_CYCLE

    @property
    def ofmap_dram_write_bw(self) -> int:
        """Ofmap DRAM write bandwidth SCALE-Sim 3.0.0 uses, words/cycle.

        USER: the first value of [architecture_presets] Bandwidth; CALC: ArrayWidth.
        """
        if self.bandwidth_mode == "USER":
            return self.bandwidths[0]
        return self.array_cols


@dataclass(frozen=True)
class Gemm:
    """One GEMM layer: an M x K ifmap operand times a K x N filter operand.

    M: output rows (ofmap pixels); N: output columns (filters); K: reduction length.
    All are element counts, as in SCALE-Sim's GEMM topology columns `Layer, M, N, K`.
    """

    name: str
    M: int
    N: int
    K: int


# --------------------------------------------------------------------------- files


def _shown(path: str | os.PathLike) -> str:
    """The path as it appears in messages: as given, or its repr when not one printable line."""
    text = os.fspath(path)
    text = text if isinstance(text, str) else os.fsdecode(text)
    return text if text.isprintable() else repr(text)


def _got(value: str, limit: int = 60) -> str:
    """A value quoted for a one-line message, shortened past `limit` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _read_text(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of a regular file of at most MAX_FILE_BYTES, else InputError."""
    shown = _shown(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"{shown}: {what} not found or not accessible ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise InputError(f"{shown}: expected a {what} as a regular file (got {kind})")
    data = _read_bytes(path, shown, what)
    return _decode(data, shown, what)


def _read_bytes(path: str | os.PathLike, shown: str, what: str) -> bytes:
    """At most MAX_FILE_BYTES of the file's bytes, InputError when larger or unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the {what} ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{shown}: expected a {what} of at most {MAX_FILE_BYTES} bytes (got more)")
    return data


def _decode(data: bytes, shown: str, what: str) -> str:
    """`data` as UTF-8 text without NUL bytes, else InputError naming the byte offset."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{shown}: expected a UTF-8 text {what} (got a non-UTF-8 byte at offset {exc.start})"
        ) from None
    if "\x00" in text:
        raise InputError(f"{shown}: expected a text {what} (got a NUL byte at offset {text.index(chr(0))})")
    return text


# --------------------------------------------------------------------------- config


def _parse_ini(text: str, shown: str) -> configparser.ConfigParser:
    """The text parsed by a default ConfigParser, as SCALE-Sim 3.0.0 does; InputError on errors."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text, source=shown)
    except configparser.MissingSectionHeaderError as exc:
        raise InputError(
            f"{shown}: line {exc.lineno}: expected a [section] header before any key (got {_got(exc.line.strip())})"
        ) from None
    except configparser.DuplicateSectionError as exc:
        raise InputError(f"{shown}: [{exc.section}]: expected each section once (line {exc.lineno} repeats it)") from None
    except configparser.DuplicateOptionError as exc:
        raise InputError(
            f"{shown}: [{exc.section}] {exc.option}: expected each key once per section (line {exc.lineno} repeats it)"
        ) from None
    except configparser.ParsingError as exc:
        lineno, line = exc.errors[0]
        raise InputError(
            f"{shown}: line {lineno}: expected 'key = value', 'key: value' or [section] (got {_got(line.strip())})"
        ) from None
    _reject_unknown(parser, shown)
    return parser


def _reject_unknown(parser: configparser.ConfigParser, shown: str) -> None:
    """InputError for a [DEFAULT] or [network_presets] section, unknown sections and keys."""
    if parser.defaults():
        raise InputError(f"{shown}: [DEFAULT]: SCALE-Sim configs have no defaults section (got {sorted(parser.defaults())})")
    for section in parser.sections():
        if section == "network_presets":
            raise InputError(
                f"{shown}: [network_presets]: not supported (SCALE-Sim 3.0.0 then looks TopologyCsvLoc up "
                "in [architecture_presets] and fails); give the topology file separately"
            )
        if section not in _KNOWN_KEYS:
            raise InputError(f"{shown}: [{section}]: unknown section (expected {', '.join(_KNOWN_KEYS)})")
        for key in parser.options(section):
            if key not in _KNOWN_KEYS[section]:
                raise InputError(f"{shown}: [{section}] {key}: not a key SCALE-Sim 3.0.0 reads in this section")


def _raw(parser: configparser.ConfigParser, shown: str, section: str, key: str, expected: str) -> str:
    """The value of `key` in `section` as configparser returns it; InputError when absent."""
    if not parser.has_section(section):
        raise InputError(f"{shown}: [{section}]: missing section (SCALE-Sim 3.0.0 requires it; it holds {key})")
    if not parser.has_option(section, key):
        raise InputError(f"{shown}: [{section}] {key}: missing key; expected {expected}")
    try:
        return parser.get(section, key)
    except configparser.InterpolationError:
        value = parser.get(section, key, raw=True)
        raise InputError(
            f"{shown}: [{section}] {key}: expected {expected}; a literal '%' must be written '%%' (got {_got(value)})"
        ) from None


def _int(parser: configparser.ConfigParser, shown: str, section: str, key: str, minimum: int = 1) -> int:
    """An integer >= `minimum` (plain decimal digits, optional '-'); InputError otherwise."""
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    value = _raw(parser, shown, section, key, expected)
    return _to_int(value, minimum, f"{shown}: [{section}] {key}: expected {expected}")


def _to_int(value: str, minimum: int, prefix: str) -> int:
    """`value` as an int >= minimum (at most 18 digits), or InputError starting with `prefix`."""
    text = value.strip()
    if not re.fullmatch(r"-?[0-9]{1,18}", text) or int(text) < minimum:
        raise InputError(f"{prefix} (got {_got(value)})")
    return int(text)


def _choice(parser: configparser.ConfigParser, shown: str, section: str, key: str, allowed: tuple[str, ...]) -> str:
    """A value that is exactly one of `allowed` (case-sensitive, as SCALE-Sim compares)."""
    expected = "one of " + ", ".join(allowed) + " (case-sensitive)"
    value = _raw(parser, shown, section, key, expected)
    if value not in allowed:
        raise InputError(f"{shown}: [{section}] {key}: expected {expected} (got {_got(value)})")
    return value


def _require_off(value: bool, shown: str, section: str, key: str, feature: str) -> None:
    """InputError when an unsupported SCALE-Sim feature is switched on."""
    if value:
        raise InputError(f"{shown}: [{section}] {key}: {feature} is not supported; expected False (got True)")


def _bool(parser: configparser.ConfigParser, shown: str, section: str, key: str) -> bool:
    """A configparser boolean (True/False, yes/no, on/off, 1/0), as SCALE-Sim reads [layout] flags."""
    value = _raw(parser, shown, section, key, "True or False")
    if value.lower() not in configparser.ConfigParser.BOOLEAN_STATES:
        raise InputError(f"{shown}: [{section}] {key}: expected True or False (got {_got(value)})")
    return configparser.ConfigParser.BOOLEAN_STATES[value.lower()]


def _bandwidths(parser: configparser.ConfigParser, shown: str, mode: str) -> tuple[int, ...]:
    """[architecture_presets] Bandwidth in USER mode (positive ints, comma-separated); () in CALC."""
    if mode != "USER":
        return ()
    section, key = "architecture_presets", "Bandwidth"
    expected = "comma-separated positive integers, words/cycle (USER mode)"
    value = _raw(parser, shown, section, key, expected)
    prefix = f"{shown}: [{section}] {key}: expected {expected}"
    return tuple(_to_int(item.strip(), 1, prefix) for item in value.split(","))


def _run_presets(parser: configparser.ConfigParser, shown: str) -> str:
    """[run_presets]: the bandwidth mode; UseRamulatorTrace must be the string False."""
    mode = _choice(parser, shown, "run_presets", "InterfaceBandwidth", ("USER", "CALC"))
    ramulator = _choice(parser, shown, "run_presets", "UseRamulatorTrace", ("True", "False"))
    _require_off(ramulator == "True", shown, "run_presets", "UseRamulatorTrace", "Ramulator DRAM traces")
    return mode


def _check_memory_banks(parser: configparser.ConfigParser, shown: str) -> None:
    """MemoryBanks is never read by SCALE-Sim 3.0.0 (it models 1 bank): only 1 is accepted."""
    section, key = "architecture_presets", "MemoryBanks"
    if parser.has_option(section, key):
        value = parser.get(section, key, raw=True)
        if value.strip() != "1":
            raise InputError(
                f"{shown}: [{section}] {key}: SCALE-Sim 3.0.0 ignores it and models 1 bank; expected 1 (got {_got(value)})"
            )


def _check_sparsity(parser: configparser.ConfigParser, shown: str) -> None:
    """[sparsity] SparsitySupport must be false (SCALE-Sim compares it case-insensitively)."""
    value = _raw(parser, shown, "sparsity", "SparsitySupport", "true or false")
    if value.lower() not in ("true", "false"):
        raise InputError(f"{shown}: [sparsity] SparsitySupport: expected true or false (got {_got(value)})")
    _require_off(value.lower() == "true", shown, "sparsity", "SparsitySupport", "sparsity")


def _architecture(parser: configparser.ConfigParser, shown: str) -> dict[str, int | str]:
    """The [architecture_presets] fields of ScaleSimConfig except the bandwidths."""
    section = "architecture_presets"
    ints = {
        "array_rows": ("ArrayHeight", 1), "array_cols": ("ArrayWidth", 1),
        "ifmap_sram_kb": ("IfmapSramSzkB", 1), "filter_sram_kb": ("FilterSramSzkB", 1),
        "ofmap_sram_kb": ("OfmapSramSzkB", 1),
        "ifmap_offset": ("IfmapOffset", 0), "filter_offset": ("FilterOffset", 0),
        "ofmap_offset": ("OfmapOffset", 0),
    }
    out: dict[str, int | str] = {f: _int(parser, shown, section, k, lo) for f, (k, lo) in ints.items()}
    out["dataflow"] = _choice(parser, shown, section, "Dataflow", _DATAFLOWS)
    out["read_request_buffer"] = _int(parser, shown, section, "ReadRequestBuffer")
    out["write_request_buffer"] = _int(parser, shown, section, "WriteRequestBuffer")
    _check_memory_banks(parser, shown)
    return out


def _layout(parser: configparser.ConfigParser, shown: str) -> dict[str, int]:
    """The [layout] bank fields of ScaleSimConfig (bandwidths in words/cycle); custom layouts off."""
    for key in ("IfmapCustomLayout", "FilterCustomLayout"):
        _require_off(_bool(parser, shown, "layout", key), shown, "layout", key, "a custom SRAM layout")
    keys = {
        "ifmap_sram_bank_bandwidth": "IfmapSRAMBankBandwidth", "ifmap_sram_bank_num": "IfmapSRAMBankNum",
        "ifmap_sram_bank_port": "IfmapSRAMBankPort", "filter_sram_bank_bandwidth": "FilterSRAMBankBandwidth",
        "filter_sram_bank_num": "FilterSRAMBankNum", "filter_sram_bank_port": "FilterSRAMBankPort",
    }
    return {field: _int(parser, shown, "layout", key) for field, key in keys.items()}


def read_scalesim_config(path: str | os.PathLike) -> ScaleSimConfig:
    """Read a SCALE-Sim 3.0.0 .cfg file strictly, in SCALE-Sim's order of sections.

    InputError (one line: `<path>: [section] key: expected ... (got ...)`) on anything
    SCALE-Sim would misread, ignore while it matters, or fail on, and on features this
    project does not model (sparsity, custom layouts, Ramulator traces).
    """
    shown = _shown(path)
    parser = _parse_ini(_read_text(path, "SCALE-Sim config"), shown)
    run_name = _raw(parser, shown, "general", "run_name", "a non-empty run name")
    if not run_name.strip():
        raise InputError(f"{shown}: [general] run_name: expected a non-empty run name (got {_got(run_name)})")
    mode = _run_presets(parser, shown)
    arch = _architecture(parser, shown)
    layout = _layout(parser, shown)
    bandwidths = _bandwidths(parser, shown, mode)
    _check_sparsity(parser, shown)
    return ScaleSimConfig(
        run_name=run_name, bandwidth_mode=mode, bandwidths=bandwidths,  # type: ignore[arg-type]
        **arch, **layout,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- topology

_GEMM_HEADER = ("m", "n", "k")
_CONV_HEADER = ("ifmap height", "ifmap width")
_GEMM_COLUMNS = ("M", "N", "K")
_CONV_COLUMNS = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels", "Num Filter", "Strides")


def _lines(text: str) -> list[str]:
    """The file's lines, split like Python's text-mode iteration (\\n, \\r\\n or \\r)."""
    return re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff"))


def _topology_kind(header: str, shown: str) -> Literal["gemm", "conv"]:
    """'gemm' or 'conv' from the header, which SCALE-Sim skips but which says how to read the rows."""
    names = tuple(f.strip().lower() for f in header.split(","))
    if names[1:4] == _GEMM_HEADER:
        return "gemm"
    if names[1:3] == _CONV_HEADER:
        return "conv"
    raise InputError(
        f"{shown}: line 1: expected a SCALE-Sim GEMM header 'Layer, M, N, K,' or conv header "
        f"'Layer name, IFMAP Height, IFMAP Width, ...' (columns are read by position) (got {_got(header.strip())})"
    )


def _row_fields(row: str, shown: str, lineno: int) -> list[str]:
    """The stripped fields before the final comma; InputError for lost or empty fields."""
    fields = row.split(",")
    last = fields.pop().strip()
    if last and not last.startswith("#"):
        raise InputError(
            f"{shown}: line {lineno}: expected the row to end with ',' (SCALE-Sim 3.0.0 drops what follows "
            f"the last comma, here {_got(last)})"
        )
    fields = [f.strip() for f in fields]
    for column, field in enumerate(fields, start=1):
        if not field:
            raise InputError(f"{shown}: line {lineno}: column {column} is empty; expected a value (stray comma?)")
    return fields


def _check_width(fields: list[str], columns: tuple[str, ...], shown: str, lineno: int) -> None:
    """InputError unless the row has a name, `columns`, and at most an N:M sparsity column."""
    lo = 1 + len(columns)
    if not lo <= len(fields) <= lo + 1:
        raise InputError(
            f"{shown}: line {lineno}: expected {lo} columns (Layer, {', '.join(columns)}) and an optional "
            f"'1:1' sparsity column, each followed by ',' (got {len(fields)})"
        )
    if len(fields) == lo + 1:
        _check_dense(fields[-1], shown, lineno)


def _check_dense(ratio: str, shown: str, lineno: int) -> None:
    """Only the dense N:M ratio '1:1' (SCALE-Sim's default) is supported."""
    parts = [p.strip() for p in ratio.split(":")]
    if parts != ["1", "1"]:
        raise InputError(f"{shown}: line {lineno}: N:M sparsity is not supported; expected 1:1 (got {_got(ratio)})")


def _sizes(fields: list[str], columns: tuple[str, ...], shown: str, lineno: int) -> list[int]:
    """The positive integers in fields[1 : 1 + len(columns)], named by column in errors."""
    out = []
    for name, value in zip(columns, fields[1:]):
        out.append(_to_int(value, 1, f"{shown}: line {lineno}: {name}: expected a positive integer"))
    return out


def _gemm_rows(fields: list[str], shown: str, lineno: int) -> list[Gemm]:
    """One GEMM from a `Layer, M, N, K,` row."""
    _check_width(fields, _GEMM_COLUMNS, shown, lineno)
    m, n, k = _sizes(fields, _GEMM_COLUMNS, shown, lineno)
    return [Gemm(fields[0], m, n, k)]


def _ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for integers, b > 0, exactly."""
    return -(-a // b)


def conv_to_gemm(
    name: str, ifmap_h: int, ifmap_w: int, filt_h: int, filt_w: int, channels: int, num_filt: int, stride: int
) -> list[Gemm]:
    """The GEMMs SCALE-Sim 3.0.0 runs for one conv layer (same stride both ways).

    M = ofmap pixels, ofmap side = ceil((ifmap - filter + stride) / stride), which is one
    more than the usual floor((ifmap - filter) / stride) + 1 when the stride does not divide
    ifmap - filter (SCALE-Sim counts the partial window); N = filters;
    K = filter_h * filter_w * channels. A name containing 'DP' (depth-wise, case-sensitive)
    becomes `channels` layers '<name>Channel_<i>' of one channel each, as in SCALE-Sim.
    Only the GEMM shapes are SCALE-Sim's: its conv operand addresses repeat across
    overlapping windows, so its DRAM traffic for such a layer is less than the GEMM's.
    """
    ofmap_px = _ceil_div(ifmap_h - filt_h + stride, stride) * _ceil_div(ifmap_w - filt_w + stride, stride)
    if "DP" in name:
        return [Gemm(f"{name}Channel_{i}", ofmap_px, num_filt, filt_h * filt_w) for i in range(channels)]
    return [Gemm(name, ofmap_px, num_filt, filt_h * filt_w * channels)]


def _conv_rows(fields: list[str], shown: str, lineno: int) -> list[Gemm]:
    """The GEMMs of one `Layer name, IFMAP Height, ..., Strides,` row."""
    _check_width(fields, _CONV_COLUMNS, shown, lineno)
    ih, iw, fh, fw, ch, nf, st = _sizes(fields, _CONV_COLUMNS, shown, lineno)
    if fh > ih or fw > iw:
        raise InputError(
            f"{shown}: line {lineno}: expected the filter ({fh} x {fw}) to fit in the ifmap ({ih} x {iw})"
        )
    return conv_to_gemm(fields[0], ih, iw, fh, fw, ch, nf, st)


def _add_unique(layers: list[Gemm], seen: dict[str, int], new: list[Gemm], shown: str, lineno: int) -> None:
    """Append `new` to `layers`; InputError on a layer name already seen."""
    for gemm in new:
        if gemm.name in seen:
            raise InputError(
                f"{shown}: line {lineno}: duplicate layer name {_got(gemm.name)} (first on line {seen[gemm.name]})"
            )
        seen[gemm.name] = lineno
        layers.append(gemm)


def read_gemm_topology(path: str | os.PathLike) -> list[Gemm]:
    """The layers of a SCALE-Sim 3.0.0 topology CSV as GEMMs, in file order.

    GEMM files (header `Layer, M, N, K,`) give one Gemm per row; conv files (header
    `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
    Num Filter, Strides,`) are converted as SCALE-Sim does (see `conv_to_gemm`). Every row
    ends with ','; a '#' comment may follow it. Blank lines are skipped. InputError (one
    line, naming file and line) on anything else.
    """
    shown = _shown(path)
    lines = _lines(_read_text(path, "SCALE-Sim topology"))
    if not any(line.strip() for line in lines):
        raise InputError(f"{shown}: empty topology; expected a header line and at least one layer row")
    parse = _gemm_rows if _topology_kind(lines[0], shown) == "gemm" else _conv_rows
    layers: list[Gemm] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        row = line.strip()
        if row:
            _add_unique(layers, seen, parse(_row_fields(row, shown, lineno), shown, lineno), shown, lineno)
    if not layers:
        raise InputError(f"{shown}: empty topology; expected at least one layer row after the header")
    return layers
