"""Sign-in forms (the login page and Django admin's) that refuse an account or address after too many failures."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from quire.accounts import services
from quire.accounts.throttling import client_address
from quire.lib.ratelimit import RateLimited


class ThrottledSignInMixin:
    """Checks the sign-in budget before the password is even hashed, and counts the outcome after."""

    request: Any
    cleaned_data: dict[str, Any]
    # Seconds until sign-in is allowed again, when this attempt was refused for too many failures.
    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = client_address(self.request.META if self.request is not None else {})
        if username and self.cleaned_data.get("password"):
            try:
                services.check_sign_in_allowed(username=username, address=address)
            except RateLimited as exc:
                self.retry_after = exc.retry_after
                raise forms.ValidationError(exc.message, code="rate_limited") from exc
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            services.do_record_sign_in(username=username, address=address, succeeded=False)
            raise
        if username:
            services.do_record_sign_in(username=username, address=address, succeeded=True)
        return cleaned


class SignInForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass
