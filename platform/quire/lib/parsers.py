"""The REST API's JSON parser: request bodies go through quire.lib.text, so every fault is a 400 naming its field."""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import JSONParser

from quire.lib.text import parse_json


class CheckedJSONParser(JSONParser):
    """DRF's JSON parser lets RecursionError (deep nesting) through as a 500 and hands NUL bytes and lone
    surrogates on to PostgreSQL; this one refuses all of them, naming the field ("cells[3].source")."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        if stream is None:
            return {}
        return parse_json(stream.read(), field="", root="body")
