"""Maps the service layers' exceptions to HTTP responses in one DRF exception handler."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from quire.lib.errors import Conflict, Forbidden, InvalidInput, NotFound, QuireError, QuotaExceeded

_STATUS = {
    InvalidInput: status.HTTP_400_BAD_REQUEST,
    Forbidden: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    QuotaExceeded: status.HTTP_429_TOO_MANY_REQUESTS,
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, QuireError):
        code = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), status.HTTP_400_BAD_REQUEST)
        return Response(exc.as_dict(), status=code)
    return exception_handler(exc, context)
