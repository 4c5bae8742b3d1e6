"""DRF permission classes built on the account rules."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from quire.accounts.admins import is_site_admin


class IsSiteAdmin(BasePermission):
    """Site admins only (see quire.accounts.admins); DRF's IsAdminUser would admit any staff account."""

    message = "only site admins may do this"

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_site_admin(request.user)
