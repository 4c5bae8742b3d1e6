"""The browser protocol's one list of server message types: every publisher keeps to it, the page handles it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from kernels.core import protocol as kernel_protocol
from kernels.events import SERVER_MESSAGE_TYPES, publish
from notebooks.consumers import HANDLERS

REPO = Path(__file__).resolve().parents[2]
# Every module that builds messages for browsers, kernels or kernel hosts (kernels/core speaks only to hosts).
SOURCES = sorted([*REPO.glob("notebooks/*.py"), *REPO.glob("kernels/*.py")])
# Commands only kernel hosts read (kernels/host.py), besides the kernel protocol's own.
HOST_COMMANDS = {"sync", "cull"}


def _kernel_types() -> set[str]:
    classes = [value for value in vars(kernel_protocol).values()
               if isinstance(value, type) and issubclass(value, kernel_protocol.Message)]
    return {cls.type for cls in classes if cls.type}


def _literal_types(path: Path) -> set[str]:
    """Every `"type": "<constant>"` in a dict display of the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)):
                    found.add(value.value)
    return found


def test_every_message_type_the_server_builds_is_listed() -> None:
    known = SERVER_MESSAGE_TYPES | set(HANDLERS) | _kernel_types() | HOST_COMMANDS
    unlisted = {}
    for path in SOURCES:
        # Dotted types name channel-layer handlers (notebook.event, kernel.sync), never seen by a browser.
        stray = {t for t in _literal_types(path) if "." not in t and t not in known}
        if stray:
            unlisted[str(path.relative_to(REPO))] = sorted(stray)
    assert not unlisted, f"message types missing from kernels.events.SERVER_MESSAGE_TYPES: {unlisted}"
    # The scan sees the publishers: the types only they send are among what it found.
    seen = set().union(*(_literal_types(path) for path in SOURCES))
    assert {"grants_changed", "version_saved", "cells_stale", "notebook_deleted", "tasks"} <= seen


def test_the_front_ends_copy_of_the_list_is_current() -> None:
    """frontend/tests/protocol.test.ts checks that the page has a handler for every type in this file."""
    path = REPO / "frontend/src/serverMessageTypes.json"
    assert json.loads(path.read_text()) == sorted(SERVER_MESSAGE_TYPES), (
        "regenerate it: python -m kernels.events > frontend/src/serverMessageTypes.json"
    )


def test_an_unlisted_type_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="not a server message type"):
        publish(1, {"type": "cells_went_stale"})


def test_the_protocol_page_shows_every_message_type() -> None:
    text = (REPO / "docs/protocol.md").read_text()
    missing = sorted(t for t in SERVER_MESSAGE_TYPES if f'"type":"{t}"' not in text)
    assert not missing, f"docs/protocol.md has no example of: {missing}"
