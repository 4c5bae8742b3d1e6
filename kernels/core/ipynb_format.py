"""nbformat's rules for .ipynb files: v3 upgraded to v4, lines joined and split, validation by nbformat's schemas.

The schemas in nbformat_schemas/ are nbformat's own (jupyter/nbformat, BSD 3-Clause, LICENSE beside them); the
upgrade from v3 follows nbformat.v4.convert. Reading is lenient, as nbformat's is (Polynote writes keys the schema
does not allow); writing is strict: every exported file validates against nbformat 4.5.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from kernels.core.errors import NotebookFormatError

SCHEMAS = Path(__file__).with_name("nbformat_schemas")
NBFORMAT = 4
NBFORMAT_MINOR = 5
CELL_TYPES = ("code", "markdown", "raw")

# nbformat 3 named a display's MIME types by short aliases.
_V3_MIME = {"text": "text/plain", "html": "text/html", "svg": "image/svg+xml", "png": "image/png",
            "jpeg": "image/jpeg", "latex": "text/latex", "json": "application/json",
            "javascript": "application/javascript", "pdf": "application/pdf", "markdown": "text/markdown"}
# Text MIME types nbformat writes as lists of lines besides text/*; Polynote's reader wants lists too.
_SPLIT_MIMES = ("application/javascript", "image/svg+xml")


def _v3_output(output: dict[str, Any]) -> dict[str, Any]:
    kind = output.get("output_type")
    if kind in ("pyout", "display_data"):
        out: dict[str, Any] = {"output_type": "execute_result" if kind == "pyout" else "display_data"}
        if kind == "pyout":
            out["execution_count"] = output.get("prompt_number")
        metadata = output.get("metadata") or {}
        out["metadata"] = {_V3_MIME.get(k, k): v for k, v in metadata.items()} if isinstance(metadata, dict) else {}
        data = {_V3_MIME.get(k, k): v for k, v in output.items()
                if k not in ("output_type", "prompt_number", "metadata")}
        if isinstance(data.get("application/json"), str):
            try:
                data["application/json"] = json.loads(data["application/json"])
            except json.JSONDecodeError:
                data["text/plain"] = data.pop("application/json")
        out["data"] = data
        return out
    if kind == "pyerr":
        return {**output, "output_type": "error"}
    if kind == "stream":
        rest = {k: v for k, v in output.items() if k != "stream"}
        return {**rest, "name": output.get("stream", "stdout")}
    return output


def _v3_cell(cell: Any) -> Any:
    if not isinstance(cell, dict):
        return cell
    cell = dict(cell)
    metadata = cell.setdefault("metadata", {})
    kind = cell.get("cell_type")
    if kind == "code":
        language = cell.pop("language", "")
        if isinstance(metadata, dict):
            if "collapsed" in cell:
                metadata["collapsed"] = cell.pop("collapsed")
            # nbformat drops a v3 cell's language; it is kept where this reader looks for one.
            if isinstance(language, str) and language and language != "python":
                metadata.setdefault("language", language)
        cell["source"] = cell.pop("input", "")
        cell["execution_count"] = cell.pop("prompt_number", None)
        outputs = cell.get("outputs") or []
        cell["outputs"] = [_v3_output(o) if isinstance(o, dict) else o for o in outputs] if isinstance(
            outputs, list) else outputs
    elif kind == "heading":
        level = cell.pop("level", 1)
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        cell["cell_type"] = "markdown"
        cell["source"] = f"{'#' * (level if isinstance(level, int) else 1)} {' '.join(source.splitlines())}"
    elif kind == "html":
        cell["cell_type"] = "markdown"
    return cell


def upgrade(raw: dict[str, Any], *, name: str) -> dict[str, Any]:
    """`raw` as an nbformat 4 notebook (a copy when it was v3); NotebookFormatError for other versions."""
    major = raw.get("nbformat", NBFORMAT)
    if major == NBFORMAT:
        return raw
    if major != 3:
        raise NotebookFormatError(
            f"{name} is nbformat {major!r}; nbformat 3 and 4 are read (open it in Jupyter and save it to upgrade it)"
        )
    worksheets = raw.get("worksheets", [])
    if not isinstance(worksheets, list) or not all(isinstance(w, dict) for w in worksheets):
        raise NotebookFormatError(f"{name} is nbformat 3 but its 'worksheets' is not a list of objects")
    metadata = copy.deepcopy(raw.get("metadata") or {})
    if not isinstance(metadata, dict):
        raise NotebookFormatError(f"{name}: notebook metadata must be an object")
    metadata.pop("name", None)
    metadata.pop("signature", None)
    metadata["orig_nbformat"] = raw.get("orig_nbformat") or 3
    metadata["orig_nbformat_minor"] = raw.get("orig_nbformat_minor") or raw.get("nbformat_minor") or 0
    cells: list[Any] = []
    for index, sheet in enumerate(worksheets):
        sheet_cells = sheet.get("cells", [])
        if not isinstance(sheet_cells, list):
            raise NotebookFormatError(f"{name}: worksheet {index + 1} has no 'cells' list")
        cells.extend(_v3_cell(copy.deepcopy(cell)) for cell in sheet_cells)
    return {"cells": cells, "metadata": metadata, "nbformat": NBFORMAT, "nbformat_minor": NBFORMAT_MINOR}


def _split(text: Any) -> Any:
    return text.splitlines(True) if isinstance(text, str) else text


def split_lines(notebook: dict[str, Any]) -> dict[str, Any]:
    """Multi-line strings written as lists of lines, as nbformat writes them (in place)."""
    for cell in notebook.get("cells", []):
        if "source" in cell:
            cell["source"] = _split(cell["source"])
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = _split(output.get("text", ""))
            elif isinstance(output.get("data"), dict):
                data = output["data"]
                for mime in data:
                    if mime.startswith("text/") or mime in _SPLIT_MIMES:
                        data[mime] = _split(data[mime])
    return notebook


@functools.cache
def _validator(minor: int) -> Any:
    import jsonschema  # only exports and checks need it

    schema = json.loads((SCHEMAS / f"nbformat.v4.{minor}.schema.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def validation_errors(notebook: dict[str, Any], *, limit: int = 5) -> list[str]:
    """Where `notebook` breaks nbformat 4's schema for its minor version (4.5 for later ones), at most `limit`."""
    minor = notebook.get("nbformat_minor")
    minor = min(max(minor, 0), NBFORMAT_MINOR) if isinstance(minor, int) else NBFORMAT_MINOR
    errors = []
    for error in _validator(minor).iter_errors(notebook):
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        errors.append(f"{where}: {error.message[:200]}")
        if len(errors) >= limit:
            break
    return errors
