"""Notebooks and their draft: an ordered list of cells with stable ids, plus configuration."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notebook(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notebooks")
    team = models.ForeignKey("teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="notebooks")
    title = models.CharField(max_length=200)
    # The draft: [{"id": str, "language": str, "source": str, "metadata": {}}], top to bottom.
    cells = models.JSONField(default=list)
    config = models.JSONField(default=dict)
    # Bumped on every draft write; a client writing against an older revision is told so.
    revision = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title

    def cell_ids(self) -> list[str]:
        return [cell["id"] for cell in self.cells]

    def find_cell(self, cell_id: str) -> tuple[int, dict[str, object]] | None:
        for index, cell in enumerate(self.cells):
            if cell["id"] == cell_id:
                return index, cell
        return None
