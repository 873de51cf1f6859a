"""CLI: compress / evaluate / finetune on a tiny model directory; bad input -> exit 2, one line."""

from __future__ import annotations

import json

import pytest

from sslcsim.cli import main

from _tiny_models import save_tiny_model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "model")


def _err(capsys, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    for f in fragments:
        assert f in err, err
    return err


def test_compress_evaluate_finetune(model_dir, tmp_path, capsys):
    art = tmp_path / "art"
    assert main(["compress", "--model", str(model_dir), "--method", "sslc", "--iters", "3", "--ratio", "0.5",
                 "--calib-samples", "4", "--calib-seqlen", "32", "--out", str(art), "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["complete"] and abs(out["kept_fraction"] - 0.5) < 1e-6
    assert main(["evaluate", "--model", str(model_dir), "--artifact", str(art), "--seqlen", "32",
                 "--windows", "2", "--per-layer"]) == 0
    text = capsys.readouterr().out
    res = json.loads(text[text.index("{"):])
    assert res["perplexity"] > 1 and res["windows"] == 2 and "layer   0:" in text
    assert main(["finetune", "--model", str(model_dir), "--artifact", str(art), "--out", str(tmp_path / "ft"),
                 "--steps", "2", "--seqlen", "32", "--eval-windows", "2", "--no-progress"]) == 0
    ft = json.loads(capsys.readouterr().out)
    assert ft["trainable_params"] > 0 and ft["ppl_after"] > 1
    from workloads import artifact

    man = artifact.load_manifest(tmp_path / "ft")
    assert man["complete"] and man["hyperparameters"]["finetune"]["steps"] == 2
    before = {n: p for _, ps in artifact.iter_layers(art) for n, p in ps.items()}
    after = {n: p for _, ps in artifact.iter_layers(tmp_path / "ft") for n, p in ps.items()}
    name = "mlp.down_proj"
    assert (before[name].values == after[name].values).all()  # S frozen
    assert not (before[name].U == after[name].U).all()  # U trained


def test_bad_inputs_exit_2(model_dir, tmp_path, capsys):
    _err(capsys, ["compress", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "o")], "none")
    _err(capsys, ["compress", "--model", str(model_dir), "--pattern", "5:4", "--out", str(tmp_path / "o")],
         "--pattern")
    _err(capsys, ["compress", "--model", str(model_dir), "--ratio", "1.5", "--out", str(tmp_path / "o")], "--ratio")
    _err(capsys, ["compress", "--model", str(model_dir), "--method", "wanda", "--rank", "4",
                  "--out", str(tmp_path / "o")], "--rank")
    _err(capsys, ["evaluate", "--model", str(model_dir), "--artifact", str(tmp_path / "missing")], "missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text("[]")
    _err(capsys, ["evaluate", "--model", str(model_dir), "--artifact", str(bad)], "manifest.json")
    _err(capsys, ["finetune", "--model", str(model_dir), "--artifact", str(bad), "--out", str(bad)], "--out")
    _err(capsys, ["evaluate", "--model", str(model_dir), "--text", str(tmp_path / "nofile.txt")], "nofile.txt")
    # argparse errors are one line with exit 2 too
    with pytest.raises(SystemExit) as ei:
        main(["compress", "--model", str(model_dir), "--method", "bogus", "--out", "x"])
    assert ei.value.code == 2


def test_corrupt_layer_exit_2(model_dir, tmp_path, capsys):
    art = tmp_path / "art"
    assert main(["compress", "--model", str(model_dir), "--method", "wanda", "--calib-samples", "2",
                 "--calib-seqlen", "32", "--out", str(art), "--no-progress"]) == 0
    capsys.readouterr()
    f = art / "layer_001.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    _err(capsys, ["evaluate", "--model", str(model_dir), "--artifact", str(art), "--windows", "1",
                  "--seqlen", "32"], "layer_001.safetensors")


def test_unsupported_models_exit_2(tmp_path, capsys):
    """GPT-2 (Conv1D projections, no intermediate_size) and an unknown model type: one line, exit 2."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from _tiny_models import _bpe_tokenizer

    gpt2 = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=256, n_positions=64, bos_token_id=0,
                               eos_token_id=0)).save_pretrained(gpt2)
    _bpe_tokenizer().save_pretrained(gpt2)
    capsys.readouterr()
    for stream in ("--stream", "--no-stream"):
        _err(capsys, ["compress", "--model", str(gpt2), "--method", "wanda", stream, "--out", str(tmp_path / "o")],
             str(gpt2), "unsupported model GPT2LMHeadModel")
    _err(capsys, ["evaluate", "--model", str(gpt2)], "unsupported model")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text('{"model_type": "not-a-model"}')
    _err(capsys, ["compress", "--model", str(odd), "--out", str(tmp_path / "o")], str(odd), "cannot load model")
    assert not (tmp_path / "o").exists()


def test_same_command_and_seed_give_byte_identical_artifacts_and_reports(model_dir, tmp_path, capsys):
    """Determinism (issue 12): compress twice with one seed, then simulate each artifact: the
    artifact files and the JSON reports' numbers are byte-identical."""
    from simulator.reports.provenance import NUMBERS

    hw = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "hwconfigs" / "vitcod.yaml")
    arts, reports = [], []
    for i in range(2):
        art, rep = tmp_path / f"art{i}", tmp_path / f"r{i}.json"
        assert main(["compress", "--model", str(model_dir), "--method", "sslc", "--iters", "3", "--ratio", "0.5",
                     "--calib-samples", "4", "--calib-seqlen", "32", "--seed", "5", "--out", str(art),
                     "--no-progress"]) == 0
        assert main(["simulate", "--artifact", str(art), "--hw", hw, "--json", str(rep)]) == 0
        arts.append({f.name: f.read_bytes() for f in sorted(art.iterdir())})
        reports.append(json.loads(rep.read_text()))
    capsys.readouterr()
    assert arts[0] == arts[1]
    assert all(reports[0][k] == reports[1][k] for k in NUMBERS)
