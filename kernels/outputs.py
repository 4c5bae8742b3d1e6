"""Outputs by reference: the bounded head of each output a browser is sent, and pages of the rest.

Plain Python (no Django): the kernel host cuts live outputs with it, the snapshot cuts stored ones, and the REST
view pages through what is stored. An output cut here carries `more`: its index among the cell's outputs (`n`)
and its full size, which is what a client asks for pages of.
"""

from __future__ import annotations

import json
from typing import Any

from kernels.limits import MAX_OUTPUT_HEAD_CHARS

# A cell whose heads would leave less than this of a budget gets references only: a few hundred characters of
# output are not worth showing out of place.
MIN_HEAD_CHARS = 256


def output_size(output: dict[str, Any]) -> int:
    """An output's size in characters, as a head is measured: its text, or its rich data's."""
    text = output.get("text")
    if isinstance(text, str):
        return len(text)
    data = output.get("data")
    if isinstance(data, dict):
        return sum(len(value) if isinstance(value, str) else len(json.dumps(value)) for value in data.values())
    return len(json.dumps(output))


def head_of(output: dict[str, Any], n: int, *, max_chars: int = MAX_OUTPUT_HEAD_CHARS) -> dict[str, Any]:
    """The output itself if it fits in max_chars, else its head with a reference to the whole."""
    size = output_size(output)
    if size <= max_chars:
        return output
    more: dict[str, Any] = {"n": n, "chars": size}
    text = output.get("text")
    if isinstance(text, str):
        more["lines"] = text.count("\n")
        return {**output, "text": text[:max_chars], "more": more}
    data = output.get("data")
    if isinstance(data, dict):
        # Text is cut; anything else (an image, a chart spec) cannot be shown in part, so it waits to be loaded.
        kept = {mime: value[:max_chars] for mime, value in data.items()
                if isinstance(value, str) and mime.startswith("text/")}
        kept = {mime: value for mime, value in kept.items() if mime == "text/plain"} or dict(list(kept.items())[:1])
        return {**output, "data": kept, "more": more}
    # An error whose traceback is this long: its name and message, the traceback on demand.
    cut = {key: (value[:max_chars] if isinstance(value, str) else value) for key, value in output.items()
           if key != "traceback"}
    return {**cut, "traceback": [], "more": more}


def heads(outputs: list[dict[str, Any]], *, budget: int) -> tuple[list[dict[str, Any]], int]:
    """The heads of a cell's outputs within `budget` encoded bytes, and what is left of the budget.

    Outputs past the budget are left out; a client learns of them from the cell's `outputs_total`."""
    shown: list[dict[str, Any]] = []
    for n, output in enumerate(outputs):
        room = min(MAX_OUTPUT_HEAD_CHARS, budget)
        if room < MIN_HEAD_CHARS:
            break
        head = head_of(output, n, max_chars=room)
        cost = len(json.dumps(head))
        if cost > budget:
            # Escaping made it larger than its characters: a reference alone.
            head = head_of(output, n, max_chars=0)
            cost = len(json.dumps(head))
            if cost > budget:
                break
        shown.append(head)
        budget -= cost
    return shown, budget


def cut_cells(cells: list[dict[str, Any]], *, budget: int) -> list[dict[str, Any]]:
    """Cells (each with `outputs`) with their outputs cut to heads, all within one budget, in order."""
    result = []
    for cell in cells:
        outputs = cell.get("outputs") or []
        shown, budget = heads(outputs, budget=budget)
        result.append({**cell, "outputs": shown, "outputs_total": len(outputs)})
    return result


def page_of(output: dict[str, Any], *, offset: int, limit: int) -> dict[str, Any]:
    """One page of an output: a slice of its text, or (for rich outputs, which cannot be cut) the whole output."""
    text = output.get("text")
    if not isinstance(text, str):
        return {"output_type": output.get("output_type"), "offset": 0, "next_offset": None, "total": 1,
                "output": output}
    end = min(len(text), offset + limit)
    return {
        "output_type": output.get("output_type"), "name": output.get("name"), "offset": offset,
        "text": text[offset:end], "next_offset": end if end < len(text) else None, "total": len(text),
    }
