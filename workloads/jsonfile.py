"""Reading a user's JSON file (a model's config.json, an artifact's manifest.json) with its
size and nesting bounded before it is parsed.

Python's json module parses recursively: a document nested 100,000 deep raises
RecursionError deep inside the parser (and a deeper one can exhaust the C stack). The depth
is therefore measured first, from the brackets outside string literals, in linear time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from workloads.errors import InputError

MAX_JSON_DEPTH = 64  # a manifest nests 6 deep, a transformers config.json 3 or 4
MAX_JSON_BYTES = 64 << 20  # a 405B-shaped model's manifest is well under 1 MB
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text` (0 for a scalar), counting the
    brackets outside string literals."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text)).encode()
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def read_json(path: str | Path, what: str, max_bytes: int = MAX_JSON_BYTES) -> object:
    """The parsed content of a JSON file; InputError (one line naming the file) when it is
    missing, not a regular file, too large, not UTF-8, nested deeper than MAX_JSON_DEPTH or
    not valid JSON."""
    p = Path(path)
    try:
        if not p.is_file():
            raise InputError(f"{p}: {what} not found (or not a regular file)")
        if p.stat().st_size > max_bytes:
            raise InputError(f"{p}: {what} is over {max_bytes >> 20} MB")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:  # a name too long, a loop of links, no permission
        raise InputError(f"{p}: {what} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: {what} is not UTF-8 text (byte {exc.start})") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InputError(f"{p}: {what} is nested {depth} deep, more than the {MAX_JSON_DEPTH} levels accepted")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: {what} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
