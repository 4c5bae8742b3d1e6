"""REST routes for notebooks."""

from __future__ import annotations

from django.urls import path

from notebooks.views import NotebookDetailView, NotebookListView

urlpatterns = [
    path("notebooks/", NotebookListView.as_view(), name="api-notebooks"),
    path("notebooks/<int:notebook_id>/", NotebookDetailView.as_view(), name="api-notebook"),
]
