"""JSON out: one place that turns reports and events into JSON text (JSON has no NaN)."""

from __future__ import annotations

import json
import math
import pathlib
import sys
from typing import Any

from repsense.errors import RepsenseError


def jsonable(value: Any) -> Any:
    """NaN and infinities -> None, tuples -> lists, numpy scalars -> Python numbers, recursively."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def dumps(doc: Any, indent: int | None = None) -> str:
    return json.dumps(jsonable(doc), indent=indent, allow_nan=False)


def write_json(doc: Any, target: str) -> None:
    """Write a JSON document to a file, or to stdout alone for ``-``."""
    text = dumps(doc, indent=2)
    if target == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    try:
        pathlib.Path(target).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise RepsenseError(f"cannot write {target}: {exc.strerror}") from None
