"""Run CACTI 7 on one SRAM and read back its own CSV row; shared by make_sram_table.py and
check_table.py.  Not imported by the sslcsim project (the project reads only the table).

The config is the one Accelergy's CACTI plug-in (hwcomponents-cacti) writes for its `SRAM`
class: its `default_cfg.cfg` verbatim, then the nine lines its `_call_cacti` appends, in its
order and spelling.  The only change we allow is the cell/peripheral type (four lines), and
only for cells other than the plug-in's "itrs-lstp"; `plugin_cfg` is the plug-in's own text,
and `render` is asserted to equal it for that cell.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal

PLUGIN_CELL = "itrs-lstp"
CELLS = ("itrs-lstp", "itrs-hp")
# The four default_cfg lines that carry the cell type; the tag lines are kept in step
# with the data lines as the plug-in does (a RAM has no tag array, so they change nothing).
CELL_KEYS = ("-Data array cell type - ", "-Data array peripheral type - ",
             "-Tag array cell type - ", "-Tag array peripheral type - ")
OUT_COLUMNS = ("read_pj", "write_pj", "leakage_mw", "area_mm2", "access_ns", "cycle_ns")
# CACTI's CSV header names (with its leading space), and the exact decimal factor to our unit.
CACTI_FIELDS = {
    "read_pj": (" Dynamic read energy (nJ)", Decimal(1000)),
    "write_pj": (" Dynamic write energy (nJ)", Decimal(1000)),
    "leakage_mw": (" Standby leakage per bank(mW)", None),  # x banks, as the plug-in does
    "area_mm2": (" Area (mm2)", Decimal(1)),
    "access_ns": (" Access time (ns)", Decimal(1)),
    "cycle_ns": (" Random cycle time (ns)", Decimal(1)),
}
VERSION_RE = re.compile(r"CACTI \(version ([^)]*)\)")


@dataclass(frozen=True)
class Point:
    """One SRAM: cell type, node (nm), capacity (bytes), port width (bits), banks."""

    cell: str
    node_nm: int
    capacity_bytes: int
    width_bits: int
    banks: int


def plugin_cfg(default_cfg: str, p: Point) -> str:
    """The cfg text hwcomponents-cacti 1.0.40 `_Memory._call_cacti` writes for an `SRAM` with
    one read-write port, associativity 1, no tag (copied from its source, line for line)."""
    block_size = p.width_bits // 8
    cfg = default_cfg.splitlines(keepends=True)
    cfg.append("\n############## User-Specified Hardware Attributes ##############\n")
    cfg.append(f"-size (bytes) {p.capacity_bytes}\n")
    cfg.append(f"-read-write port  {1}\n")
    cfg.append(f"-block size (bytes) {block_size}\n")
    cfg.append(f"-technology (u) {p.node_nm / 1000}\n")
    cfg.append(f"-output/input bus width  {block_size * 8}\n")
    cfg.append(f"-UCA bank {p.banks}\n")
    cfg.append('-cache type "ram"\n')
    cfg.append(f"-tag size (b) {0}\n")
    cfg.append(f"-associativity {1}\n")
    return "".join(cfg)


# What `plugin_cfg` appends, with the point's values left open.
TAIL = ("\n############## User-Specified Hardware Attributes ##############\n"
        "-size (bytes) {capacity_bytes}\n"
        "-read-write port  1\n"
        "-block size (bytes) {block_bytes}\n"
        "-technology (u) {technology_um}\n"
        "-output/input bus width  {width_bits}\n"
        "-UCA bank {banks}\n"
        '-cache type "ram"\n'
        "-tag size (b) 0\n"
        "-associativity 1\n")


def template(default_cfg: str) -> str:
    """The config template with {placeholders}: the plug-in's default_cfg with its four cell
    lines left open, then `TAIL`.  For the plug-in's cell it renders to `plugin_cfg` exactly
    (make_sram_table.py asserts this at every such point)."""
    assert "{" not in default_cfg and "}" not in default_cfg, "default_cfg has braces"
    lines = []
    for line in default_cfg.splitlines(keepends=True):
        if line.startswith(CELL_KEYS):
            assert f'"{PLUGIN_CELL}' in line, f"unexpected cell line in default_cfg: {line!r}"
            line = line.replace(PLUGIN_CELL, "{cell}")
        lines.append(line)
    return "".join(lines) + TAIL


def render(tmpl: str, p: Point) -> str:
    """The cfg text for point `p` from `template`'s text."""
    if p.width_bits % 8:
        raise ValueError(f"width {p.width_bits} bits is not whole bytes")
    return tmpl.format(cell=p.cell, capacity_bytes=p.capacity_bytes,
                       block_bytes=p.width_bits // 8, technology_um=p.node_nm / 1000,
                       width_bits=p.width_bits, banks=p.banks)


def _decimal_text(d: Decimal) -> str:
    """Plain decimal text, no exponent and no trailing zeros (exact: no binary rounding)."""
    return format(d.normalize(), "f")


def convert_row(row: dict[str, str], banks: int) -> dict[str, str]:
    """CACTI's printed values (6 significant digits) in our units, converted in decimal so
    that the table holds exactly what CACTI printed: nJ -> pJ x 1000, leakage per bank x banks."""
    out = {}
    for name, (field, factor) in CACTI_FIELDS.items():
        value = Decimal(row[field].strip())
        out[name] = _decimal_text(value * (banks if factor is None else factor))
    return out


def run_point(cacti_bin: str, tmpl: str, p: Point, timeout_s: float = 600) -> dict[str, str]:
    """Run CACTI once on `p` in a fresh temporary folder (CACTI appends to `<cfg>.out`, and
    reads tech_params/ from its own folder, so it runs there).  Returns the converted row with
    status "ok", or status "refused" and CACTI's last message line as the reason."""
    work = tempfile.mkdtemp(prefix="cacti_sram_")
    try:
        cfg_path = os.path.join(work, "sram.cfg")
        with open(cfg_path, "w") as f:
            f.write(render(tmpl, p))
        try:
            proc = subprocess.run([os.path.abspath(cacti_bin), "-infile", cfg_path],
                                  cwd=os.path.dirname(os.path.abspath(cacti_bin)),
                                  capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"status": "refused", "reason": f"no result in {timeout_s:g} s"}
        version = VERSION_RE.search(proc.stdout)
        out_path = cfg_path + ".out"
        if proc.returncode != 0 or not os.path.exists(out_path):
            return {"status": "refused", "reason": _reason(proc.stdout, proc.stderr)}
        with open(out_path) as f:
            row = list(csv.DictReader(f))[-1]
        _check_echo(row, p)
        return {"status": "ok", **convert_row(row, p.banks),
                "cacti_version": version.group(1) if version else ""}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_echo(row: dict[str, str], p: Point) -> None:
    """CACTI echoes its inputs in the row; a mismatch means the cfg was not read as meant."""
    echoed = (int(row["Tech node (nm)"]), int(row[" Capacity (bytes)"]),
              int(row[" Number of banks"]), int(row[" Output width (bits)"]))
    wanted = (p.node_nm, p.capacity_bytes, p.banks, p.width_bits)
    assert echoed == wanted, f"CACTI echoed {echoed} for {wanted}"


def _reason(stdout: str, stderr: str) -> str:
    """CACTI's refusal in one CSV-safe line: what it wrote to stderr, else the last line of
    stdout (where it prints "ERROR: no valid data array organizations found")."""
    err = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    out = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    line = " ".join(err) if err else (out[-1] if out else "no output")
    return line.replace(",", ";").replace('"', "'")
