"""The numba cache is keyed by the source of every package with jitted code
(simulator/jit_cache.py): a change anywhere starts a fresh cache."""

from __future__ import annotations

import os

from numba.core import config

from simulator import jit_cache


def _tree(root):
    for pkg, text in (("simulator", "A = 1\n"), ("workloads", "B = 2\n")):
        (root / pkg / "sub").mkdir(parents=True)
        (root / pkg / "sub" / "m.py").write_text(text)


def test_the_digest_follows_every_source_file(tmp_path):
    _tree(tmp_path)
    before = jit_cache.source_digest(tmp_path)
    assert jit_cache.source_digest(tmp_path) == before
    (tmp_path / "workloads" / "sub" / "m.py").write_text("B = 3\n")  # a constant in another package
    changed = jit_cache.source_digest(tmp_path)
    assert changed != before
    (tmp_path / "simulator" / "new.py").write_text("")
    assert jit_cache.source_digest(tmp_path) not in (before, changed)


def test_the_cache_moves_with_the_source_and_old_ones_go(tmp_path, monkeypatch):
    _tree(tmp_path)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(config, "CACHE_DIR", config.CACHE_DIR)  # restored after the test
    first = jit_cache.use_source_keyed_cache(tmp_path)
    assert first == os.environ["NUMBA_CACHE_DIR"] == config.CACHE_DIR
    assert first.endswith(jit_cache.source_digest(tmp_path))
    (tmp_path / "simulator" / "sub" / "m.py").write_text("A = 2\n")
    second = jit_cache.use_source_keyed_cache(tmp_path)
    assert second != first and config.CACHE_DIR == second
    assert [p.name for p in (tmp_path / jit_cache.CACHE).iterdir()] == [os.path.basename(second)]


def test_a_directory_the_user_chose_is_kept(tmp_path, monkeypatch):
    _tree(tmp_path)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert jit_cache.use_source_keyed_cache(tmp_path) is None
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")


def test_this_checkout_uses_its_source_keyed_cache():
    assert os.environ["NUMBA_CACHE_DIR"].endswith(jit_cache.source_digest())
