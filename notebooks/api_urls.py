"""REST routes for notebooks: the notebooks themselves, their drafts, history, sharing, import and export."""

from __future__ import annotations

from django.urls import path

from notebooks.config_views import ConfigView, RebuildView
from notebooks.history_views import (
    DiffView,
    ForkListView,
    ForkView,
    RestoreView,
    VersionDetailView,
    VersionListView,
)
from notebooks.sharing_views import AuditView, GrantDetailView, GrantListView
from notebooks.views import (
    ClearOutputsView,
    DraftView,
    ExportView,
    ImportView,
    NotebookDetailView,
    NotebookListView,
    OutputPageView,
)

one = "notebooks/<int:notebook_id>/"

urlpatterns = [
    path("notebooks/", NotebookListView.as_view(), name="api-notebooks"),
    path("notebooks/import/", ImportView.as_view(), name="api-notebook-import"),
    path(one, NotebookDetailView.as_view(), name="api-notebook"),
    path(one + "draft/", DraftView.as_view(), name="api-notebook-draft"),
    path(one + "outputs/clear/", ClearOutputsView.as_view(), name="api-notebook-clear-outputs"),
    path(one + "config/", ConfigView.as_view(), name="api-notebook-config"),
    path(one + "config/rebuild/", RebuildView.as_view(), name="api-notebook-config-rebuild"),
    path(one + "export/", ExportView.as_view(), name="api-notebook-export"),
    path(one + "versions/", VersionListView.as_view(), name="api-notebook-versions"),
    path(one + "versions/<int:number>/", VersionDetailView.as_view(), name="api-notebook-version"),
    path(one + "versions/<int:number>/restore/", RestoreView.as_view(), name="api-notebook-restore"),
    path(one + "versions/<int:number>/fork/", ForkView.as_view(), name="api-notebook-fork"),
    path(one + "cells/<str:cell_id>/outputs/<int:n>/", OutputPageView.as_view(), name="api-notebook-output"),
    path(one + "diff/", DiffView.as_view(), name="api-notebook-diff"),
    path(one + "forks/", ForkListView.as_view(), name="api-notebook-forks"),
    path(one + "grants/", GrantListView.as_view(), name="api-notebook-grants"),
    path(one + "grants/<int:grant_id>/", GrantDetailView.as_view(), name="api-notebook-grant"),
    path(one + "audit/", AuditView.as_view(), name="api-notebook-audit"),
]
