"""REST routes for the signed-in user and their API tokens."""

from __future__ import annotations

from django.urls import path

from quire.accounts.views import MeView, TokenDetailView, TokenListView

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("tokens/", TokenListView.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>/", TokenDetailView.as_view(), name="api-token"),
]
