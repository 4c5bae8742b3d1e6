"""REST routes of runs: version locks."""

from __future__ import annotations

from django.urls import path

from runs.views import LockDiffView, VersionLockView

one = "notebooks/<int:notebook_id>/"

urlpatterns = [
    path(one + "versions/<int:number>/lock/", VersionLockView.as_view(), name="api-version-lock"),
    path(one + "lock-diff/", LockDiffView.as_view(), name="api-lock-diff"),
]
