"""Django app config for runs: version locks, re-runs of versions and their reproducibility reports."""

from __future__ import annotations

from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Django's place for wiring: the app registry is loaded now, so these modules' models import safely.
        from notebooks import signals
        from runs import execution, services, tasks  # noqa: F401  (tasks: beat's round is found by name in embedded mode too)

        signals.version_saved.connect(services.on_version_saved, dispatch_uid="runs.record_version_lock")
        services.RUN_BACKENDS["inprocess"] = execution.start_in_thread
