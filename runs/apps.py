"""Django app config for runs: version locks, re-runs of versions and their reproducibility reports."""

from __future__ import annotations

from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notebooks import signals
        from runs import services, tasks  # noqa: F401  (tasks: beat's round is found by name in embedded mode too)

        signals.version_saved.connect(services.on_version_saved, dispatch_uid="runs.record_version_lock")
