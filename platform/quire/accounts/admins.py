"""Who is a site admin: the one definition every check (REST, roles, teams, quotas, the profile) uses."""

from __future__ import annotations

from typing import Any


def is_site_admin(user: Any) -> bool:
    """Active superusers only. `is_staff` alone (Django admin's own flag) grants nothing in Quire."""
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))
