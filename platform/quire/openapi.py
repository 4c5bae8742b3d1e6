"""The API schema: every operation documents the errors any route can answer, in the one error body shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every error under /api/ (quire.errors): a machine `code`, a sentence `detail`, `field` when one is at fault."""

    code = serializers.CharField(help_text="invalid, not_authenticated, forbidden, not_found, rate_limited, …")
    detail = serializers.CharField()
    field = serializers.CharField(required=False, help_text="the input at fault, e.g. cells[3].id")


# The errors any operation can answer (docs/api.md, Errors); a route's own ones (409, 413 …) it documents itself.
COMMON_ERRORS = {
    "400": "Invalid input; `field` names it.",
    "401": "Not signed in, or a bad or revoked API token.",
    "403": "Your role is too low for this.",
    "404": "No such resource, or you may not read it.",
    "429": "Over a rate limit; `Retry-After` says how many seconds to wait.",
    "500": "A fault of the server, logged with the request.",
}


class QuireAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status_code, description in COMMON_ERRORS.items():
            if status_code not in responses:
                responses[status_code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), status_code, direction=direction
                )
        return responses
