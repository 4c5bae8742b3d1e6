"""The platform's service-layer exceptions; views and consumers map them to HTTP statuses and error events."""

from __future__ import annotations

from typing import Any


class QuireError(Exception):
    """Base of every error a service raises on purpose; `code` is stable and machine-readable."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class InvalidInput(QuireError):
    code = "invalid"


class Forbidden(QuireError):
    code = "forbidden"


class NotFound(QuireError):
    code = "not_found"


class Conflict(QuireError):
    code = "conflict"


class QuotaExceeded(QuireError):
    code = "quota_exceeded"
