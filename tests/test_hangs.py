"""Inputs that used to hang (issue 12), each under a deadline: refused in one line, fast."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from sslcsim.cli import main
from tests.workloads.artifact_fixture import write_artifact
from workloads import artifact

HW = Path(__file__).resolve().parents[1] / "hwconfigs"
DEADLINE_S = 20


@contextlib.contextmanager
def deadline(seconds: int = DEADLINE_S):
    """Fail the test (TimeoutError) if the block runs longer than `seconds`."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: the input hangs the command")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _one_line_exit_2(argv: list[str], capsys) -> str:
    with deadline():
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.fixture
def artifact_dir(tmp_path):
    write_artifact(tmp_path / "art")
    return tmp_path / "art"


def test_artifact_layer_file_that_is_a_fifo(artifact_dir, capsys):
    f = artifact_dir / artifact.layer_file_name(0)
    f.unlink()
    os.mkfifo(f)  # opening it for reading would block forever
    err = _one_line_exit_2(["simulate", "--artifact", str(artifact_dir), "--hw", str(HW / "vitcod.yaml")], capsys)
    assert "not a regular file" in err


def test_artifact_layer_file_linked_to_dev_zero(artifact_dir, capsys):
    f = artifact_dir / artifact.layer_file_name(1)
    f.unlink()
    f.symlink_to("/dev/zero")  # reading it would never end
    err = _one_line_exit_2(["simulate", "--artifact", str(artifact_dir), "--hw", str(HW / "vitcod.yaml")], capsys)
    assert "not a regular file" in err


def test_a_50_mb_yaml_list_as_hardware_config(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    with big.open("w") as fh:
        fh.write("- 1\n" * (50 * (1 << 20) // 4))
    err = _one_line_exit_2(["simulate", "--model", "smollm2-135m", "--hw", str(big)], capsys)
    assert "over 1 MB" in err


def test_a_50_mb_sweep_spec(tmp_path, capsys):
    big = tmp_path / "spec.yaml"
    with big.open("w") as fh:
        fh.write("- 1\n" * (50 * (1 << 20) // 4))
    err = _one_line_exit_2(["sweep", str(big), "--out", str(tmp_path / "r.db")], capsys)
    assert "over 1 MB" in err and not (tmp_path / "r.db").exists()


def test_a_million_point_grid_is_refused_before_it_is_expanded(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    values = ", ".join(str(8 * k) for k in range(1, 101))
    spec.write_text(f"name: m\nhardware: {HW / 'vitcod.yaml'}\nmodel: smollm2-135m\n"
                    f"grid: {{rank: [{values}], buffers.weight_kib: [{values}], buffers.input_kib: [{values}]}}\n")
    err = _one_line_exit_2(["sweep", str(spec), "--out", str(tmp_path / "r.db")], capsys)
    assert "1,000,000 points" in err or "1000000" in err


def test_a_manifest_nested_100000_deep(artifact_dir, capsys):
    (artifact_dir / artifact.MANIFEST_NAME).write_text("[" * 100_000 + "]" * 100_000)
    err = _one_line_exit_2(["simulate", "--artifact", str(artifact_dir), "--hw", str(HW / "vitcod.yaml")], capsys)
    assert "nested 100000 deep" in err


def test_a_model_no_machine_holds_is_refused_before_any_tile(tmp_path, capsys):
    """Issue 23: hidden_size 2^20 grew the process to 22 GB before the OOM killer ended it."""
    cfg = tmp_path / "config.json"
    cfg.write_text('{"hidden_size": 1048576, "intermediate_size": 1048576, "num_attention_heads": 32, '
                   '"num_hidden_layers": 2}')
    err = _one_line_exit_2(["simulate", "--model", str(cfg), "--hw", str(HW / "vitcod.yaml"), "--phase", "prefill",
                            "--seq", "65536"], capsys)
    assert "GB of memory" in err
