"""REST routes of runs: version locks, re-runs of versions, jobs."""

from __future__ import annotations

from django.urls import path

from runs.views import (
    JobDetailView,
    JobListView,
    LockDiffView,
    MyRunListView,
    NotebookJobListView,
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
    path(one + "jobs/", NotebookJobListView.as_view(), name="api-notebook-jobs"),
    path("jobs/", JobListView.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>/", JobDetailView.as_view(), name="api-job"),
    path("runs/", MyRunListView.as_view(), name="api-runs"),
    path("runs/<uuid:run_id>/", RunDetailView.as_view(), name="api-run"),
    path("runs/<uuid:run_id>/cancel/", RunCancelView.as_view(), name="api-run-cancel"),
]
