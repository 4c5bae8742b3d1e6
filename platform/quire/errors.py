"""Maps the service layers' exceptions to HTTP responses in one DRF exception handler."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from quire.lib.errors import Conflict, Forbidden, InvalidInput, NotFound, QuireError, QuotaExceeded
from quire.lib.ratelimit import RateLimited

_STATUS = {
    InvalidInput: status.HTTP_400_BAD_REQUEST,
    Forbidden: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    QuotaExceeded: status.HTTP_429_TOO_MANY_REQUESTS,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, QuireError):
        code = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), status.HTTP_400_BAD_REQUEST)
        response = Response(exc.as_dict(), status=code)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, exceptions.ValidationError):
        return Response(_validation_body(exc.detail), status=status.HTTP_400_BAD_REQUEST)
    return exception_handler(exc, context)


def _validation_body(detail: Any) -> dict[str, Any]:
    """DRF's per-field errors with the first one spelled out, so every 400 names its field."""
    body: dict[str, Any] = {"code": "invalid", "errors": detail}
    if isinstance(detail, dict) and detail:
        field, messages = next(iter(detail.items()))
        first = messages[0] if isinstance(messages, list) and messages else messages
        body["field"] = field
        body["detail"] = f"{field}: {first}"
    elif isinstance(detail, list) and detail:
        body["detail"] = str(detail[0])
    else:
        body["detail"] = str(detail)
    return body
