"""Reading and writing .ipynb files: plain Jupyter notebooks and Polynote's flavour of them.

Polynote's flavour keeps each cell's language in `metadata.language` (python, scala, sql, vega,
text) and the notebook's configuration in `metadata.config` (dependencies, repositories,
exclusions, sparkConfig, env). Jupyter markdown and raw cells are text cells; a code cell without
a language takes the notebook's (`language_info.name`, else `kernelspec.language`, else python).
nbformat 3 files are upgraded first. A cell of a type or language this engine cannot run (R, Julia, a
future cell type) is kept as a foreign cell: it does not run and is written back as it came.
Everything the runner does not understand is carried through to the output unchanged.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from kernels.core.errors import NotebookFormatError
from kernels.core.interpreters import KNOWN_LANGUAGES
from kernels.core.ipynb_format import upgrade

_VALID_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
_JUPYTER_TEXT_CELLS = ("markdown", "raw")


@dataclass
class Cell:
    id: str
    language: str
    source: str
    raw: dict[str, Any]
    # A cell of a type or language that cannot run here: language "text", its file form kept as it came.
    foreign: bool = False

    @property
    def tags(self) -> list[str]:
        tags = (self.raw.get("metadata") or {}).get("tags") or []
        return [t for t in tags if isinstance(t, str)]


@dataclass
class NotebookDocument:
    cells: list[Cell]
    raw: dict[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        config = (self.raw.get("metadata") or {}).get("config") or {}
        return config if isinstance(config, dict) else {}


def _source(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    raise NotebookFormatError(f"{where}: source must be a string or a list of strings")


def _default_language(metadata: dict[str, Any]) -> str:
    for section, key in (("language_info", "name"), ("kernelspec", "language")):
        value = (metadata.get(section) or {}).get(key)
        if isinstance(value, str) and value:
            return value.lower()
    return "python"


def parse_notebook(text: str, *, name: str = "notebook") -> NotebookDocument:
    """A notebook from .ipynb JSON text; NotebookFormatError with a one-line reason otherwise."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookFormatError(f"{name} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise NotebookFormatError(f"{name} is not a notebook: not a JSON object")
    raw = upgrade(raw, name=name)
    if not isinstance(raw.get("cells"), list):
        raise NotebookFormatError(f"{name} is not a notebook: no 'cells' list")
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise NotebookFormatError(f"{name}: notebook metadata must be an object")
    default = _default_language(metadata)
    cells: list[Cell] = []
    seen: set[str] = set()
    for index, cell in enumerate(raw["cells"], start=1):
        where = f"cell {index}"
        if not isinstance(cell, dict):
            raise NotebookFormatError(f"{where} is not an object")
        cell_type = cell.get("cell_type")
        foreign = cell_type not in ("code", *_JUPYTER_TEXT_CELLS)
        cell_metadata = cell.get("metadata") or {}
        language = cell_metadata.get("language") if isinstance(cell_metadata, dict) else None
        language = language or cell.get("language")  # older Polynote exports put it on the cell
        if not isinstance(language, str) or not language:
            language = "text" if cell_type in _JUPYTER_TEXT_CELLS else default
        language = language.lower()
        if foreign or language not in KNOWN_LANGUAGES:
            foreign, language = True, "text"
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not _VALID_ID.match(cell_id) or cell_id in seen:
            cell_id = f"cell-{index}"
        seen.add(cell_id)
        cells.append(Cell(id=cell_id, language=language, source=_source(cell.get("source", ""), where), raw=cell,
                          foreign=foreign))
    return NotebookDocument(cells=cells, raw=raw)


def nbformat_outputs(outputs: list[dict[str, Any]], execution_count: int) -> list[dict[str, Any]]:
    """Kernel outputs as nbformat 4 outputs: adjacent stream chunks merged, positions dropped."""
    result: list[dict[str, Any]] = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            last = result[-1] if result else None
            if last and last["output_type"] == "stream" and last["name"] == output["name"]:
                last["text"] += output["text"]
            else:
                result.append({"output_type": "stream", "name": output["name"], "text": output["text"]})
        elif kind == "execute_result":
            result.append(
                {"output_type": kind, "execution_count": execution_count,
                 "data": output["data"], "metadata": output.get("metadata", {})}
            )
        elif kind == "display_data":
            result.append({"output_type": kind, "data": output["data"], "metadata": output.get("metadata", {})})
        elif kind == "error":
            result.append(
                {"output_type": kind, "ename": output["ename"], "evalue": output["evalue"],
                 "traceback": output["traceback"]}
            )
    return result


def cell_json(cell: Cell, *, outputs: list[dict[str, Any]] | None, execution_count: int | None) -> dict[str, Any]:
    """The output notebook's cell: the input cell with id, language and (for code cells) results."""
    out = copy.deepcopy(cell.raw)
    out["id"] = cell.id
    if cell.foreign:
        return out
    metadata = out.get("metadata")
    out["metadata"] = metadata = dict(metadata) if isinstance(metadata, dict) else {}
    out["source"] = cell.source
    if out.get("cell_type") == "code" and not cell.foreign:
        metadata["language"] = cell.language
        out["outputs"] = outputs or []
        out["execution_count"] = execution_count
    return out


def notebook_json(document: NotebookDocument, cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The output notebook: input metadata (config included) kept, nbformat 4.5 for cell ids."""
    out = {key: copy.deepcopy(value) for key, value in document.raw.items() if key != "cells"}
    out["cells"] = cells
    out["nbformat"] = 4
    out["nbformat_minor"] = max(5, int(document.raw.get("nbformat_minor") or 0))
    out.setdefault("metadata", {})
    return out
