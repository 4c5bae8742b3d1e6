"""DRF authentication by API token: `Authorization: Bearer qt_...`."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from quire.accounts.services import check_token


def token_from_header(value: str) -> str | None:
    scheme, _, key = value.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not key.strip():
        return None
    return key.strip()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        key = token_from_header(header)
        if key is None:
            return None
        user = check_token(key)
        if user is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API token")
        return (user, None)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
