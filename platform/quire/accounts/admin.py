"""Django admin for API tokens (hashes only; keys are never stored)."""

from __future__ import annotations

from django.contrib import admin

from quire.accounts.forms import AdminSignInForm
from quire.accounts.models import ApiToken

# Django admin's sign-in counts against the same budgets as the login page.
admin.site.login_form = AdminSignInForm


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
