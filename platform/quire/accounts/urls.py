"""Sign-in and sign-out pages."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from quire.accounts.views import SignInView

urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
