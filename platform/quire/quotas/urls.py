"""REST routes for quotas."""

from __future__ import annotations

from django.urls import path

from quire.quotas.views import MyQuotaView, QuotaDetailView, QuotaListView

urlpatterns = [
    path("me/quota/", MyQuotaView.as_view(), name="api-my-quota"),
    path("quotas/", QuotaListView.as_view(), name="api-quotas"),
    path("quotas/<int:quota_id>/", QuotaDetailView.as_view(), name="api-quota"),
]
