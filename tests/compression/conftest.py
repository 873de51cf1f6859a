"""Shared set-up for the compression tests: offline, one torch thread (the machine is shared)."""

from __future__ import annotations

import os
import sys

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
torch = pytest.importorskip("torch")
torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(__file__))
