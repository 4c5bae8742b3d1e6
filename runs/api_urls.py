"""REST routes of runs: version locks, re-runs of versions."""

from __future__ import annotations

from django.urls import path

from runs.views import (
    LockDiffView,
    MyRunListView,
    NotebookRunListView,
    RunCancelView,
    RunDetailView,
    VersionLockView,
    VersionRunView,
)

one = "notebooks/<int:notebook_id>/"

urlpatterns = [
    path(one + "versions/<int:number>/lock/", VersionLockView.as_view(), name="api-version-lock"),
    path(one + "versions/<int:number>/runs/", VersionRunView.as_view(), name="api-version-run"),
    path(one + "lock-diff/", LockDiffView.as_view(), name="api-lock-diff"),
    path(one + "runs/", NotebookRunListView.as_view(), name="api-notebook-runs"),
    path("runs/", MyRunListView.as_view(), name="api-runs"),
    path("runs/<uuid:run_id>/", RunDetailView.as_view(), name="api-run"),
    path("runs/<uuid:run_id>/cancel/", RunCancelView.as_view(), name="api-run-cancel"),
]
