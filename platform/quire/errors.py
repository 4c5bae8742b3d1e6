"""Maps errors to HTTP responses: the service layers' exceptions in one DRF exception handler, and Django's own
400/403/404/500 (raised before or outside a DRF view) as JSON for every path under /api/."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
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
API_PREFIX = "/api/"


def _too_large() -> dict[str, Any]:
    from django.conf import settings

    return {"code": "too_large", "field": "body",
            "detail": f"a request body is limited to {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, QuireError):
        code = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), status.HTTP_400_BAD_REQUEST)
        response = Response(exc.as_dict(), status=code)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, exceptions.ValidationError):
        return Response(_validation_body(exc.detail), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        return Response(_too_large(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException) and isinstance(response.data, dict):
        # DRF's own errors (401, 405, 415, 429 …) say only `detail`; every error body here also has a `code`.
        codes = exc.get_codes()
        response.data.setdefault("code", codes if isinstance(codes, str) else exc.default_code)
    return response


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


# ------------------------------------------------------------------ Django's own error views (urls.py handler*)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def error_response(request: HttpRequest, status_code: int, body: dict[str, Any]) -> HttpResponse:
    """`body` as JSON under /api/; elsewhere Django's own page for the status."""
    if is_api(request):
        return JsonResponse(body, status=status_code)
    if status_code == 400:
        return defaults.bad_request(request, SuspiciousOperation(body.get("detail", "")))
    return HttpResponse(body.get("detail", ""), status=status_code, content_type="text/plain")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(_too_large(), status=413)
    return JsonResponse({"code": "invalid", "detail": "bad request"}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse({"code": "forbidden", "detail": "forbidden"}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"code": "not_found", "detail": f"no API endpoint at {request.path[:200]}"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api(request):
        return defaults.server_error(request)
    return JsonResponse({"code": "internal", "detail": "internal error"}, status=500)
