"""Django app config for kernels."""

from __future__ import annotations

from django.apps import AppConfig


class KernelsConfig(AppConfig):
    name = "kernels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Django's place for connecting receivers: the app registry is loaded, so models import safely.
        from kernels import services
        from notebooks import signals

        signals.cells_deleted.connect(services.on_cells_deleted, dispatch_uid="kernels.forget_deleted_cells")
