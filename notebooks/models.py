"""Notebooks, their immutable versions, per-notebook grants and the audit log of who changed access."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class Notebook(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notebooks")
    team = models.ForeignKey("teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="notebooks")
    title = models.CharField(max_length=200)
    # The draft: [{"id": str, "language": str, "source": str, "metadata": {}}], top to bottom. A cell set
    # from a stored snapshot (import, fork, restore) also carries "outputs" and "outputs_at": they show
    # until the cell runs again.
    cells = models.JSONField(default=list)
    config = models.JSONField(default=dict)
    # The notebook-level metadata of the .ipynb file it was imported from (kernelspec, language_info, widgets,
    # papermill, custom keys), written back on every export of it; `config` and Quire's own keys are not in it.
    file_metadata = models.JSONField(default=dict, blank=True)
    # Bumped on every draft write; a client writing against an older revision is told so.
    revision = models.PositiveIntegerField(default=0)
    # The cells' sources as a CRDT document (pycrdt/Yjs update format): concurrent typists in one cell all
    # keep their keystrokes. `cells[*].source` is its plain-text projection, once the updates still in the
    # notebook's log (`YUpdate`) are folded in (notebooks/ylog.py): every reader of the draft folds them first.
    ydoc = models.BinaryField(default=bytes, blank=True)
    # How many updates the log holds that `ydoc` and the cells do not have yet: read with the row, so a reader
    # knows without another query whether it must fold.
    pending_updates = models.PositiveIntegerField(default=0)
    head_version = models.ForeignKey(
        "NotebookVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    forked_from = models.ForeignKey(
        "NotebookVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Soft delete: the notebook vanishes from the product but an admin can recover it until it is purged.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-updated_at"]),
            models.Index(fields=["team", "-updated_at"]),
            models.Index(fields=["-updated_at", "-id"], condition=Q(deleted_at__isnull=True), name="notebook_live_recent"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def cell_ids(self) -> list[str]:
        return [cell["id"] for cell in self.cells]

    def find_cell(self, cell_id: str) -> tuple[int, dict[str, object]] | None:
        for index, cell in enumerate(self.cells):
            if cell["id"] == cell_id:
                return index, cell
        return None


class YUpdate(models.Model):
    """One collaborative edit's CRDT update, appended to its notebook's log and folded into `Notebook.ydoc` later.

    `seq` is the draft revision the edit made, so the updates of a run of revisions with no other change between
    them are exactly the rows numbered by those revisions.
    """

    notebook = models.ForeignKey(Notebook, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField()
    update = models.BinaryField()

    class Meta:
        ordering = ["notebook", "seq"]
        constraints = [models.UniqueConstraint(fields=["notebook", "seq"], name="one_update_per_revision")]

    def __str__(self) -> str:
        return f"{self.notebook_id} #{self.seq}"


class ImmutableVersionError(Exception):
    """Raised when code tries to change a stored version; versions are written once."""


class NotebookVersion(models.Model):
    """An immutable snapshot of a notebook's cells (with their outputs) and configuration.

    PostgreSQL refuses any UPDATE of this table (a trigger, see migration 0002); `save()` refuses too.
    """

    notebook = models.ForeignKey(Notebook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # Versions are never updated, so nothing here may be SET_NULL: PROTECT users, cascade with the notebook.
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    message = models.CharField(max_length=1000, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    # [{"id", "language", "source", "metadata", "outputs"}] as they were when the version was saved.
    cells = models.JSONField(default=list)
    config = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["notebook", "number"], name="one_version_number_per_notebook")]

    def __str__(self) -> str:
        return f"{self.notebook_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableVersionError(f"version {self.number} of notebook {self.notebook_id} is immutable")
        super().save(*args, **kwargs)


class Grant(models.Model):
    """One user's or one team's role on one notebook."""

    notebook = models.ForeignKey(Notebook, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="notebook_grants"
    )
    team = models.ForeignKey("teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="notebook_grants")
    # A notebooks.roles.Role value: 1 viewer, 2 runner, 3 editor, 4 owner.
    role = models.PositiveSmallIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(team__isnull=True)) | (Q(user__isnull=True) & Q(team__isnull=False)),
                name="grant_to_user_or_team",
            ),
            models.CheckConstraint(condition=Q(role__gte=1) & Q(role__lte=4), name="grant_role_known"),
            models.UniqueConstraint(fields=["notebook", "user"], condition=Q(user__isnull=False), name="one_grant_per_user"),
            models.UniqueConstraint(fields=["notebook", "team"], condition=Q(team__isnull=False), name="one_grant_per_team"),
        ]
        indexes = [models.Index(fields=["user"]), models.Index(fields=["team"])]

    def __str__(self) -> str:
        return f"{self.user or self.team} on {self.notebook_id} ({self.role})"

    @property
    def grantee(self) -> str:
        return f"user:{self.user.get_username()}" if self.user_id else f"team:{self.team.slug}"  # type: ignore[union-attr]


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATED = "created"
        IMPORTED = "imported"
        SHARED = "shared"
        UNSHARED = "unshared"
        ROLE_CHANGED = "role_changed"
        FORKED = "forked"
        RESTORED = "restored"
        RENAMED = "renamed"
        DELETED = "deleted"
        RECOVERED = "recovered"

    # Kept when a notebook is purged: the log outlives what it describes.
    notebook = models.ForeignKey(Notebook, null=True, on_delete=models.SET_NULL, related_name="audit_entries")
    notebook_title = models.CharField(max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    # What the action was about: "user:bob", "team:acme", "version:3", "notebook:42".
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["notebook", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target} on {self.notebook_id}"
