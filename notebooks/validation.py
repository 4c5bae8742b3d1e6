"""What a draft may hold: languages, size limits, cell ids and configuration, every refusal naming its field."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from kernels.config import clean_config
from notebooks.limits import (
    MAX_CELLS,
    MAX_CONFIG_BYTES,
    MAX_IMPORT_BYTES,
    MAX_MESSAGE,
    MAX_METADATA_BYTES,
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_BYTES,
    MAX_TITLE,
)
from quire.lib.errors import InvalidInput
from quire.lib.text import check_json, check_text

__all__ = ["MAX_CELLS", "MAX_CONFIG_BYTES", "MAX_IMPORT_BYTES", "MAX_MESSAGE", "MAX_METADATA_BYTES",
           "MAX_NOTEBOOK_BYTES", "MAX_SOURCE_BYTES", "MAX_TITLE"]

LANGUAGES = ("python", "scala", "sql", "vega", "text")
# The one shape of a cell id, wherever one comes in (draft, import, every WebSocket message that names a cell).
CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# The draft keys a client may send; "outputs"/"outputs_at" (and the "execution_count" of outputs a version
# brought) are the server's own, and "state"/"symbols" come back from a read of the notebook, so a client may send
# a cell as it read it (they are dropped).
_CLIENT_CELL_KEYS = {"id", "language", "source", "metadata"}
_IGNORED_CELL_KEYS = {"outputs", "state", "symbols", "execution_count"}


def new_cell_id() -> str:
    return secrets.token_hex(6)


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def check_cell_id(cell_id: Any, *, field: str = "cell_id") -> str:
    if not isinstance(cell_id, str) or not CELL_ID.match(cell_id):
        raise InvalidInput("a cell id is 1 to 64 letters, digits, '-' or '_'", field=field)
    return cell_id


def check_title(title: str) -> str:
    title = check_text(title, field="title").strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput(f"a title has 1 to {MAX_TITLE} characters", field="title")
    return title


def check_message(message: str) -> str:
    if len(message) > MAX_MESSAGE:
        raise InvalidInput(f"a version message has at most {MAX_MESSAGE} characters", field="message")
    return check_text(message, field="message").strip()


def check_language(language: Any, *, field: str = "language") -> str:
    if language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r:.40}; use one of {', '.join(LANGUAGES)}", field=field)
    return str(language)


def check_source(source: Any, *, field: str = "source") -> str:
    if not isinstance(source, str):
        raise InvalidInput("a cell's source is a string", field=field)
    check_text(source, field=field)
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise InvalidInput(f"a cell's source is limited to {MAX_SOURCE_BYTES} bytes", field=field)
    return source


def check_metadata(metadata: Any, *, field: str = "metadata") -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise InvalidInput("cell metadata is a JSON object", field=field)
    check_json(metadata, field=field)
    if json_size(metadata) > MAX_METADATA_BYTES:
        raise InvalidInput(f"cell metadata is limited to {MAX_METADATA_BYTES} bytes", field=field)
    return metadata


def check_config(config: Any, *, field: str = "config") -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InvalidInput("the configuration is a JSON object", field=field)
    check_json(config, field=field)
    if json_size(config) > MAX_CONFIG_BYTES:
        raise InvalidInput(f"the configuration is limited to {MAX_CONFIG_BYTES} bytes", field=field)
    return clean_config(config, field=field)


def check_cell_count(count: int, *, field: str = "cells") -> None:
    if count > MAX_CELLS:
        raise InvalidInput(f"a notebook holds at most {MAX_CELLS} cells", field=field)


def check_cell_keys(cell: Any, *, field: str) -> dict[str, Any]:
    """`cell` is an object with no keys but those a client may send."""
    if not isinstance(cell, dict):
        raise InvalidInput("a cell is a JSON object", field=field)
    unknown = sorted(set(cell) - _CLIENT_CELL_KEYS - _IGNORED_CELL_KEYS)
    if unknown:
        # The key is named only if it can be: it may be any string a client can send.
        key = unknown[0] if CELL_ID.match(unknown[0]) else "…"
        raise InvalidInput(f"unknown cell field {key!r}", field=f"{field}.{key}")
    return cell


def clean_cell(cell: Any, *, field: str) -> dict[str, Any]:
    """One cell a client sent, checked and normalised: {"language", "source", "metadata"} and "id" when it gave
    one. The same rules for a whole draft (REST) and a cell inserted over the WebSocket."""
    check_cell_keys(cell, field=field)
    cell_id = cell.get("id")
    cell_id = check_cell_id(cell_id, field=f"{field}.id") if cell_id not in (None, "") else None
    metadata = check_metadata(cell.get("metadata") or {}, field=f"{field}.metadata")
    clean: dict[str, Any] = {
        "language": check_language(cell.get("language"), field=f"{field}.language"),
        "source": check_source(cell.get("source", ""), field=f"{field}.source"),
        "metadata": metadata,
    }
    return clean if cell_id is None else {"id": cell_id, **clean}


def clean_cells(
    cells: Any, *, previous: list[dict[str, Any]] | None = None, field: str = "cells"
) -> list[dict[str, Any]]:
    """A client's whole list of cells, checked and normalised.

    Cells without an id get a fresh one. A cell whose id is already in `previous` keeps the outputs the
    server stored for it; clients never set outputs themselves.
    """
    if not isinstance(cells, list):
        raise InvalidInput("cells is a list", field=field)
    check_cell_count(len(cells), field=field)
    kept = {cell["id"]: cell for cell in previous or []}
    seen: set[str] = set()
    cleaned: list[dict[str, Any]] = []
    for index, cell in enumerate(cells):
        where = f"{field}[{index}]"
        clean = {"id": "", **clean_cell(cell, field=where)}
        cell_id = clean["id"] or new_cell_id()
        if cell_id in seen:
            raise InvalidInput(f"duplicate cell id {cell_id!r}", field=f"{where}.id")
        seen.add(cell_id)
        clean["id"] = cell_id
        old = kept.get(cell_id)
        if old is not None and "outputs" in old:
            clean["outputs"], clean["outputs_at"] = old["outputs"], old.get("outputs_at")
            if old.get("execution_count") is not None:
                clean["execution_count"] = old["execution_count"]
        cleaned.append(clean)
    return cleaned


def check_draft_size(cells: list[dict[str, Any]], config: dict[str, Any], *, field: str = "cells") -> None:
    check_draft_bytes(sum(len(c["source"].encode()) + json_size(c["metadata"]) for c in cells) + json_size(config),
                      field=field)


def check_draft_bytes(size: int, *, field: str) -> None:
    """The draft's size limit, for a caller that keeps the size (sources, metadata and config) as it goes."""
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidInput(f"a notebook is limited to {MAX_NOTEBOOK_BYTES} bytes of source", field=field)
