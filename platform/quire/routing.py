"""WebSocket URL routes."""

from __future__ import annotations

from django.urls import path

from notebooks.consumers import NotebookConsumer

websocket_urlpatterns = [
    path("ws/notebooks/<int:notebook_id>/", NotebookConsumer.as_asgi()),
]
