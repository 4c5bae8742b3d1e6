"""REST plumbing shared by the notebook views: a base view whose 400s name a field, the raw .ipynb parser, and
the list pagination."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notebooks.limits import MAX_IMPORT_BYTES, MAX_PAGE_SIZE
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


class NotebookPagination(LimitOffsetPagination):
    """`?limit=&offset=`, strictly: a limit or offset that is not a whole number (or a limit of 0) is a 400 naming
    it, where DRF would quietly use the default; a limit above MAX_PAGE_SIZE is lowered to it."""

    default_limit = 50
    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request: Request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        return min(_whole_number(raw, field=self.limit_query_param, least=1), MAX_PAGE_SIZE)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        return 0 if raw is None else _whole_number(raw, field=self.offset_query_param, least=0)


def _whole_number(raw: str, *, field: str, least: int) -> int:
    # Digits only, and few enough to convert: "1e3", "+1", " 1" and 10**5000 are not page numbers.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) < least:
        raise InvalidInput(f"{field} is a whole number from {least} up, of at most 18 digits", field=field)
    return int(raw)
