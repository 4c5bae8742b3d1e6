"""Django app config for teams."""

from __future__ import annotations

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "quire.teams"
    label = "teams"
    default_auto_field = "django.db.models.BigAutoField"
