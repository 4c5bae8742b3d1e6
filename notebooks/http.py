"""REST plumbing shared by the notebook views: a base view whose 400s name a field, the raw .ipynb parser."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from notebooks.limits import MAX_IMPORT_BYTES
from quire.lib.errors import InvalidInput


class NotebookAPIView(APIView):
    def handle_exception(self, exc: Exception) -> Response:
        # DRF's ParseError says nothing about where; every 400 of this API names its field.
        if isinstance(exc, ParseError):
            exc = InvalidInput(f"malformed request body: {exc.detail}", field="body")
        return super().handle_exception(exc)


class RawNotebook(bytes):
    """The body of a request that sent an .ipynb document itself rather than a multipart form."""


class IpynbParser(BaseParser):
    """Hands the body through unparsed (the engine's reader parses it), reading no more than the limit + 1."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> RawNotebook:
        if stream is None:
            return RawNotebook(b"")
        return RawNotebook(stream.read(MAX_IMPORT_BYTES + 1))


class IpynbMediaParser(IpynbParser):
    media_type = "application/x-ipynb+json"
