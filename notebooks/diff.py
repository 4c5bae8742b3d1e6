"""Cell-by-cell differences between two snapshots of a notebook (two versions, or a version and the draft)."""

from __future__ import annotations

from typing import Any

Cells = list[dict[str, Any]]


def _stable_ids(old: list[str], new: list[str]) -> set[str]:
    """The cells that kept their relative order; every other cell present on both sides has moved.

    Cell ids are unique on each side, so the longest common subsequence is a longest increasing
    subsequence of old positions taken in the new order: O(n log n) by patience sorting.
    """
    old_position = {cell_id: index for index, cell_id in enumerate(old)}
    common = [cell_id for cell_id in new if cell_id in old_position]
    tails: list[int] = []  # tails[k]: index into `common` of the smallest tail of a run of length k+1
    previous: list[int | None] = [None] * len(common)
    for index, cell_id in enumerate(common):
        position = old_position[cell_id]
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if old_position[common[tails[middle]]] < position:
                low = middle + 1
            else:
                high = middle
        previous[index] = tails[low - 1] if low else None
        if low == len(tails):
            tails.append(index)
        else:
            tails[low] = index
    stable: set[str] = set()
    cursor = tails[-1] if tails else None
    while cursor is not None:
        stable.add(common[cursor])
        cursor = previous[cursor]
    return stable


def _entry(cell_id: str, changes: list[str], before: dict[str, Any] | None, after: dict[str, Any] | None,
           from_index: int | None, to_index: int | None) -> dict[str, Any]:
    # One headline change for simple clients, every change in "changes"; content beats position. A
    # metadata-only change has no headline of its own (the API promises six), only its entry in "changes".
    order = ("added", "removed", "source", "language", "outputs", "moved")
    headline = next((c for c in order if c in changes), "unchanged")
    entry: dict[str, Any] = {
        "cell_id": cell_id,
        "change": "source" if headline == "language" else headline,
        "changes": changes,
        "from_index": from_index,
        "to_index": to_index,
        "from_source": before["source"] if before else None,
        "to_source": after["source"] if after else None,
        "from_language": before["language"] if before else None,
        "to_language": after["language"] if after else None,
    }
    if "outputs" in changes:
        entry["from_outputs"] = before["outputs"] if before else []
        entry["to_outputs"] = after["outputs"] if after else []
    return entry


def diff_snapshots(
    before_cells: Cells, after_cells: Cells, before_config: dict[str, Any], after_config: dict[str, Any]
) -> dict[str, Any]:
    """Cells in the newer order, then the removed ones in their old order; and whether the config changed."""
    before = {cell["id"]: (index, cell) for index, cell in enumerate(before_cells)}
    after_ids = [cell["id"] for cell in after_cells]
    stable = _stable_ids([cell["id"] for cell in before_cells], after_ids)
    entries: list[dict[str, Any]] = []
    for to_index, cell in enumerate(after_cells):
        found = before.get(cell["id"])
        if found is None:
            entries.append(_entry(cell["id"], ["added"], None, cell, None, to_index))
            continue
        from_index, old = found
        changes = [
            name
            for name, changed in (
                ("source", old["source"] != cell["source"]),
                ("language", old["language"] != cell["language"]),
                ("outputs", (old.get("outputs") or []) != (cell.get("outputs") or [])),
                ("metadata", (old.get("metadata") or {}) != (cell.get("metadata") or {})),
                ("moved", cell["id"] not in stable),
            )
            if changed
        ]
        entries.append(_entry(cell["id"], changes, old, cell, from_index, to_index))
    kept = set(after_ids)
    for from_index, cell in enumerate(before_cells):
        if cell["id"] not in kept:
            entries.append(_entry(cell["id"], ["removed"], cell, None, from_index, None))
    return {
        "cells": entries,
        "config_changed": before_config != after_config,
        "config": {"from": before_config, "to": after_config},
    }
