"""What a draft may hold: languages, size limits, cell ids and configuration, every refusal naming its field."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from notebooks.config import clean_config
from quire.lib.errors import InvalidInput

LANGUAGES = ("python", "scala", "sql", "vega", "text")
MAX_SOURCE_BYTES = 1_000_000
MAX_CELLS = 2_000
MAX_TITLE = 200
MAX_MESSAGE = 1_000
# A whole draft (sources, metadata and config): big enough for real work, small enough to load per request.
MAX_NOTEBOOK_BYTES = 16_000_000
MAX_METADATA_BYTES = 64_000
MAX_CONFIG_BYTES = 256_000
# An imported file may also carry outputs (images), so it gets more room than the draft alone.
MAX_IMPORT_BYTES = 32_000_000
CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# The draft keys a client may send; "outputs"/"outputs_at" are the server's own.
_CLIENT_CELL_KEYS = {"id", "language", "source", "metadata"}


def new_cell_id() -> str:
    return secrets.token_hex(6)


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def check_title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput(f"a title has 1 to {MAX_TITLE} characters", field="title")
    return title


def check_message(message: str) -> str:
    if len(message) > MAX_MESSAGE:
        raise InvalidInput(f"a version message has at most {MAX_MESSAGE} characters", field="message")
    return message.strip()


def check_language(language: Any, *, field: str = "language") -> str:
    if language not in LANGUAGES:
        raise InvalidInput(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}", field=field)
    return str(language)


def check_source(source: Any, *, field: str = "source") -> str:
    if not isinstance(source, str):
        raise InvalidInput("a cell's source is a string", field=field)
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise InvalidInput(f"a cell's source is limited to {MAX_SOURCE_BYTES} bytes", field=field)
    return source


def check_config(config: Any, *, field: str = "config") -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InvalidInput("the configuration is a JSON object", field=field)
    if json_size(config) > MAX_CONFIG_BYTES:
        raise InvalidInput(f"the configuration is limited to {MAX_CONFIG_BYTES} bytes", field=field)
    return clean_config(config, field=field)


def check_cell_count(count: int, *, field: str = "cells") -> None:
    if count > MAX_CELLS:
        raise InvalidInput(f"a notebook holds at most {MAX_CELLS} cells", field=field)


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
        if not isinstance(cell, dict):
            raise InvalidInput("a cell is a JSON object", field=where)
        unknown = set(cell) - _CLIENT_CELL_KEYS - {"outputs", "state", "symbols"}
        if unknown:
            raise InvalidInput(f"unknown cell field {sorted(unknown)[0]!r}", field=f"{where}.{sorted(unknown)[0]}")
        cell_id = cell.get("id") or new_cell_id()
        if not isinstance(cell_id, str) or not CELL_ID.match(cell_id):
            raise InvalidInput("a cell id is 1 to 64 letters, digits, '-' or '_'", field=f"{where}.id")
        if cell_id in seen:
            raise InvalidInput(f"duplicate cell id {cell_id!r}", field=f"{where}.id")
        seen.add(cell_id)
        metadata = cell.get("metadata") or {}
        if not isinstance(metadata, dict) or json_size(metadata) > MAX_METADATA_BYTES:
            raise InvalidInput(f"cell metadata is an object of at most {MAX_METADATA_BYTES} bytes", field=f"{where}.metadata")
        clean: dict[str, Any] = {
            "id": cell_id,
            "language": check_language(cell.get("language"), field=f"{where}.language"),
            "source": check_source(cell.get("source", ""), field=f"{where}.source"),
            "metadata": metadata,
        }
        old = kept.get(cell_id)
        if old is not None and "outputs" in old:
            clean["outputs"], clean["outputs_at"] = old["outputs"], old.get("outputs_at")
        cleaned.append(clean)
    return cleaned


def check_draft_size(cells: list[dict[str, Any]], config: dict[str, Any]) -> None:
    size = sum(len(c["source"].encode()) + json_size(c["metadata"]) for c in cells) + json_size(config)
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidInput(f"a notebook is limited to {MAX_NOTEBOOK_BYTES} bytes of source", field="cells")
