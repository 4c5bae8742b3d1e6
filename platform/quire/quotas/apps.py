"""Django app config for quotas."""

from __future__ import annotations

from django.apps import AppConfig


class QuotasConfig(AppConfig):
    name = "quire.quotas"
    label = "quotas"
    default_auto_field = "django.db.models.BigAutoField"
