"""REST routes for quotas."""

from __future__ import annotations

from django.urls import path

from quire.quotas.views import QuotaDetailView, QuotaListView

urlpatterns = [
    path("quotas/", QuotaListView.as_view(), name="api-quotas"),
    path("quotas/<int:quota_id>/", QuotaDetailView.as_view(), name="api-quota"),
]
