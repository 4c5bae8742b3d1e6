"""The one pagination every list endpoint of the REST API uses: `?limit=&offset=`, at most MAX_PAGE_SIZE items a
page, answered as DRF's `{count, next, previous, results}`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quire.lib.errors import InvalidInput
from quire.lib.pagination_limits import PAGE_LIMIT as MAX_PAGE_SIZE

# The query parameters of every list endpoint, for its schema.
PAGE = [OpenApiParameter("limit", int, description=f"at most {MAX_PAGE_SIZE}"), OpenApiParameter("offset", int)]


class Pagination(LimitOffsetPagination):
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


def paginated(request: Request, view: APIView, items: Sequence[Any] | Any,
              serialize: Callable[[list[Any]], Any], **beside: Any) -> Response:
    """One page of `items` (a queryset or a list), each page serialized by `serialize`; `beside` adds keys next to
    the page's own (the kernels list keeps its `max_kernels` there)."""
    paginator = Pagination()
    page = paginator.paginate_queryset(items, request, view=view) or []
    response = paginator.get_paginated_response(serialize(list(page)))
    response.data = {**beside, **response.data}
    return response


def _whole_number(raw: str, *, field: str, least: int) -> int:
    # Digits only, and few enough to convert: "1e3", "+1", " 1" and 10**5000 are not page numbers.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) < least:
        raise InvalidInput(f"{field} is a whole number from {least} up, of at most 18 digits", field=field)
    return int(raw)
