"""Bad input reaches the user as one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sslcsim.cli import main

HW = Path(__file__).resolve().parents[1] / "hwconfigs"


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse usage errors
        code = e.code
    err = capsys.readouterr().err
    return code, err


def tiny_buffers(tmp_path: Path) -> str:
    d = yaml.safe_load((HW / "vitcod.yaml").read_text())
    d["buffers"].update(weight_kib=0.001, index_kib=0.001)
    d.pop("technology")  # CACTI's table starts at 1 KiB: with a technology the config itself is refused
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(d))
    return str(p)


@pytest.mark.parametrize("argv,needle", [
    (["--model", "gpt-17"], "unknown preset"),
    (["--model", "llama-2-7b", "--rank", "5000"], "exceeds min(m, n)"),
    (["--model", "llama-2-7b", "--ratio", "0.1", "--preserve", "0.2"], "cannot exceed"),
    (["--model", "smollm2-135m", "--ratio", "0.3", "--rank", "128"], "budget cannot be met"),
    (["--model", "llama-2-7b", "--ratio", "1.5"], "--ratio"),
    (["--model", "llama-2-7b", "--pattern", "3-4"], "--pattern"),
    (["--model", "llama-2-7b", "--batch", "9223372036854775807"], "--batch"),
    (["--model", "llama-2-7b", "--phase", "prefill", "--seq", "99999999"], "--seq"),
    (["--model", "llama-2-7b", "--phase", "prefill", "--batch", "4096", "--seq", "1000000"], "tokens in one step"),
    (["--model", "smollm2-135m", "--seed", "2147483648"], "--seed 2147483648: expected an integer in 0..2147483647"),
    (["--model", "smollm2-135m", "--seed", "-1"], "--seed -1"),
    (["--model", "smollm2-135m", "--json", "/proc/x.json"], "/proc/x.json: cannot write an output there"),
])
def test_bad_simulate_arguments(capsys, argv, needle):
    code, err = run_cli(capsys, "simulate", "--hw", str(HW / "sslc-table4.yaml"), "--layers", "1", *argv)
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_buffer_too_small_for_the_smallest_tile(capsys, tmp_path):
    code, err = run_cli(capsys, "simulate", "--hw", tiny_buffers(tmp_path), "--model", "smollm2-135m",
                        "--rank", "16", "--layers", "1")
    assert code == 2 and "too small for the smallest tile" in err and err.count("\n") == 1


def test_bad_hw_file(capsys, tmp_path):
    p = tmp_path / "neg.yaml"
    d = yaml.safe_load((HW / "vitcod.yaml").read_text())
    d["sparser_engine"]["lines"] = -4
    p.write_text(yaml.safe_dump(d))
    code, err = run_cli(capsys, "simulate", "--hw", str(p), "--model", "smollm2-135m")
    assert code == 2 and "sparser_engine.lines" in err and err.count("\n") == 1


def test_unknown_subcommand_option_is_one_line(capsys):
    code, err = run_cli(capsys, "simulate", "--bogus")
    assert code == 2 and err.count("\n") == 1


def test_outputs_never_replace_what_is_not_a_regular_file(capsys, tmp_path):
    """--json/--csv at a directory, a device, a FIFO or a symlink: one line, exit 2, before any
    table is printed, and the path is left as it was."""
    import os

    target = tmp_path / "kept.txt"
    target.write_text("precious")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    base = ["simulate", "--model", "smollm2-135m", "--hw", str(HW / "vitcod.yaml"), "--rank", "16", "--layers", "1"]
    for flag, out in (("--json", tmp_path), ("--json", "/dev/null"), ("--csv", link), ("--json", fifo)):
        code = main(base + [flag, str(out)])
        captured = capsys.readouterr()
        assert code == 2 and captured.out == "" and captured.err.count("\n") == 1, out
    assert target.read_text() == "precious" and link.is_symlink() and fifo.is_fifo()
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_a_newline_in_a_path_keeps_the_error_on_one_line(capsys, tmp_path):
    odd = tmp_path / "a\nb.yaml"
    code, err = run_cli(capsys, "simulate", "--hw", str(odd), "--model", "llama-2-7b")
    assert code == 2 and err.count("\n") == 1 and "a\\nb.yaml" in err
