"""Calibration and evaluation text from the standard library (`pydoc_data.topics`).

The topics are concatenated in sorted-key order and cut in two at a topic boundary near
the middle: the first half is calibration text, the second half evaluation text, so
the two never share a character.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from workloads.errors import InputError

SOURCE = "pydoc_data.topics"


@lru_cache(maxsize=1)
def _halves() -> tuple[str, str]:
    from pydoc_data.topics import topics

    docs = [topics[k].strip() for k in sorted(topics)]
    total = sum(len(d) + 2 for d in docs)
    first: list[str] = []
    size = 0
    i = 0
    while i < len(docs) and size + len(docs[i]) + 2 <= total / 2:
        first.append(docs[i])
        size += len(docs[i]) + 2
        i += 1
    return "\n\n".join(first), "\n\n".join(docs[i:])


def calibration_text() -> str:
    return _halves()[0]


def evaluation_text() -> str:
    return _halves()[1]


def read_text(path: str | None) -> tuple[str, str]:
    """(text, description): a user text file, or one of the built-in halves."""
    if path in (None, "", "calibration"):
        return calibration_text(), f"{SOURCE} first half"
    if path == "evaluation":
        return evaluation_text(), f"{SOURCE} second half"
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read text file ({exc})") from None
    if not text.strip():
        raise InputError(f"{path}: text file is empty")
    return text, str(p)
