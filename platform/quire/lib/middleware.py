"""Refuses a request whose URL or headers carry a NUL byte, before any view, session or database lookup sees it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from quire.errors import error_response
from quire.lib.errors import InvalidInput
from quire.lib.text import check_text


def check_request_text(request: HttpRequest) -> None:
    """InvalidInput naming the path, the query parameter or the header that holds a NUL byte (PostgreSQL stores
    none, and no URL or header has a use for one)."""
    check_text(request.path, field="path")
    for name, values in request.GET.lists():
        check_text(name, field="query")
        for value in values:
            check_text(value, field=name)
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            check_text(value, field=f"headers.{key[5:].replace('_', '-').title()}")


class RefuseNulInRequests(MiddlewareMixin):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        try:
            check_request_text(request)
        except InvalidInput as exc:
            return error_response(request, 400, exc.as_dict())
        return None
