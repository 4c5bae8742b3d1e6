"""The Quire Django project: settings, URLs, the ASGI application and the Celery app."""

from __future__ import annotations

from quire.celery import app as celery_app

__all__ = ["celery_app"]
