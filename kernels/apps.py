"""Django app config for kernels."""

from __future__ import annotations

from django.apps import AppConfig


class KernelsConfig(AppConfig):
    name = "kernels"
    default_auto_field = "django.db.models.BigAutoField"
