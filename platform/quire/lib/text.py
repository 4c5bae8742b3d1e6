"""Untrusted text and JSON: NUL bytes, lone surrogates, deep nesting and non-finite numbers are refused, by field.

PostgreSQL stores neither NUL (in text or jsonb) nor unpaired UTF-16 surrogates, and Python's JSON parser raises
RecursionError on deep nesting; each would otherwise surface as a 500 far from where the input came in. Every
entry point (the REST JSON parser, query strings, the WebSocket consumer, .ipynb import) parses and checks
through here, and the services check the text they store with `check_text`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from quire.lib.errors import InvalidInput

# Real documents (Vega specs, nbformat outputs) nest a dozen levels; Python's parser gives up near 1,000.
MAX_JSON_DEPTH = 64

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


# What storable() looks for in a value's JSON (ASCII) form before walking it: NUL or any surrogate escape.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|d[89a-f][0-9a-f]{2})")


def storable(value: Any) -> Any:
    """`value` (JSON) with NUL and lone surrogates in its strings replaced by U+FFFD, the same object when it has
    none. For what the platform stores but did not take as input, such as a kernel's outputs: refusing them would
    lose a run, and PostgreSQL stores neither."""
    if _UNSTORABLE_ESCAPE.search(json.dumps(value, default=str)) is None:
        return value
    return _replace_unstorable(value)


def _replace_unstorable(value: Any) -> Any:
    if isinstance(value, str):
        return _BAD_TEXT.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_unstorable(key): _replace_unstorable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_unstorable(item) for item in value]
    return value


def _problem(text: str) -> str | None:
    match = _BAD_TEXT.search(text)
    if match is None:
        return None
    return "NUL bytes are not allowed" if match.group() == "\x00" else "unpaired UTF-16 surrogates are not allowed"


def check_text(value: str, *, field: str) -> str:
    """`value` unchanged, or InvalidInput naming `field` if it holds a NUL byte or a lone surrogate."""
    problem = _problem(value)
    if problem is not None:
        raise InvalidInput(f"{problem} in {field}", field=field)
    return value


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_json(value: Any, *, field: str = "", root: str = "body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`value` unchanged, once every string and key in it is clean, it nests at most `max_depth` deep and its
    numbers are finite. Fields are named by their path from `field` ("cells[2].metadata.tags"), the value itself
    `field` or else `root`. Walks with a stack, so no input can exhaust the interpreter's recursion limit."""
    stack: list[tuple[Any, str, int]] = [(value, field, 1)]
    while stack:
        item, path, depth = stack.pop()
        where = path or root
        if isinstance(item, str):
            check_text(item, field=where)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise InvalidInput(f"JSON may nest at most {max_depth} levels deep", field=where)
            if isinstance(item, list):
                stack.extend((child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item))
                continue
            for key, child in item.items():
                problem = _problem(key)
                if problem is not None:
                    # The key itself cannot name the field: it may not even be encodable.
                    raise InvalidInput(f"{problem} in the keys of {where}", field=where)
                stack.append((child, _child(path, key), depth + 1))
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidInput("numbers are finite", field=where)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(text: str | bytes, *, field: str = "", root: str = "body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON text; a fault in its syntax (or NaN, or nesting the parser cannot follow) is an
    InvalidInput naming `field` or else `root`. The value still needs `check_json` (see `parse_json`)."""
    where = field or root
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        # The parser recurses once per level and gave up long before the end: far deeper than allowed.
        raise InvalidInput(f"JSON may nest at most {max_depth} levels deep", field=where) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", field=where) from None
    except ValueError as exc:  # not UTF-8, NaN, or an integer too long to convert
        raise InvalidInput(f"malformed JSON: {_clip(str(exc))}", field=where) from None


def parse_json(text: str | bytes, *, field: str = "", root: str = "body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON text and `check_json` it; any fault is an InvalidInput naming its field (see there)."""
    value = load_json(text, field=field, root=root, max_depth=max_depth)
    return check_json(value, field=field, root=root, max_depth=max_depth)


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
