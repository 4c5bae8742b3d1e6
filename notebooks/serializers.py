"""REST representations of notebooks, versions, grants and the audit log; request bodies the views accept."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notebooks.models import AuditEntry, Grant, Notebook
from notebooks.roles import LABELS, Role

# ------------------------------------------------------------------ responses


class NotebookSummarySerializer(serializers.ModelSerializer):
    """A notebook in a list; `role` comes from the view's context ("roles": {id: Role}) or "role"."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True, default=None)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Notebook
        fields = ["id", "title", "owner", "team", "revision", "created_at", "updated_at", "role"]

    def get_role(self, notebook: Notebook) -> str | None:
        role: Role | None = self.context.get("roles", {}).get(notebook.pk, self.context.get("role"))
        return role.label if role is not None else None


class ForkOriginSerializer(serializers.Serializer):
    notebook_id = serializers.IntegerField()
    notebook_title = serializers.CharField(allow_null=True)
    version = serializers.IntegerField()
    readable = serializers.BooleanField()


class NotebookDetailSerializer(NotebookSummarySerializer):
    """Documentation of the detail body; the view assembles it with notebook_detail()."""

    cells = serializers.ListField(child=serializers.DictField())
    config = serializers.DictField()
    forked_from = ForkOriginSerializer(allow_null=True)
    head_version = serializers.IntegerField(allow_null=True)

    class Meta(NotebookSummarySerializer.Meta):
        fields = [*NotebookSummarySerializer.Meta.fields, "cells", "config", "forked_from", "head_version"]


def notebook_detail(
    notebook: Notebook, cells: list[dict[str, Any]], role: Role, forked_from: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        **NotebookSummarySerializer(notebook, context={"role": role}).data,
        "cells": cells,
        "config": notebook.config,
        "forked_from": forked_from,
        "head_version": getattr(notebook, "head_number", None),
    }


class VersionSerializer(serializers.Serializer):
    """A version without its contents; reads model instances and the rows of versioning.list_versions."""

    number = serializers.IntegerField()
    author = serializers.SerializerMethodField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    content_hash = serializers.CharField()
    parent = serializers.SerializerMethodField()

    def get_author(self, version: Any) -> str:
        return version["author"] if isinstance(version, dict) else version.author.get_username()

    def get_parent(self, version: Any) -> int | None:
        if isinstance(version, dict):
            return version["parent"]
        return version.parent.number if version.parent_id else None


class VersionDetailSerializer(VersionSerializer):
    cells = serializers.ListField(child=serializers.DictField())
    config = serializers.DictField()


class UnchangedVersionSerializer(serializers.Serializer):
    unchanged = serializers.BooleanField()
    version = VersionSerializer()


class RestoredSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    version = VersionSerializer()
    unchanged = serializers.BooleanField()


class DiffCellSerializer(serializers.Serializer):
    cell_id = serializers.CharField()
    change = serializers.ChoiceField(choices=["added", "removed", "moved", "source", "outputs", "unchanged"])
    changes = serializers.ListField(child=serializers.CharField())
    from_index = serializers.IntegerField(allow_null=True)
    to_index = serializers.IntegerField(allow_null=True)
    from_source = serializers.CharField(allow_null=True)
    to_source = serializers.CharField(allow_null=True)
    from_language = serializers.CharField(allow_null=True)
    to_language = serializers.CharField(allow_null=True)


class DiffSerializer(serializers.Serializer):
    cells = DiffCellSerializer(many=True)
    config_changed = serializers.BooleanField()
    config = serializers.DictField()


class ForkSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    version = serializers.IntegerField(source="version_number", read_only=True)

    class Meta:
        model = Notebook
        fields = ["id", "title", "owner", "version", "created_at"]


class GrantSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", default=None, read_only=True)
    team = serializers.CharField(source="team.slug", default=None, read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Grant
        fields = ["id", "user", "team", "role", "created_at"]

    def get_role(self, grant: Grant) -> str:
        return Role(grant.role).label


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = AuditEntry
        fields = ["action", "actor", "target", "detail", "created_at"]


class RevisionSerializer(serializers.Serializer):
    revision = serializers.IntegerField()


class OutputsClearedSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    cell_ids = serializers.ListField(child=serializers.CharField())


# ------------------------------------------------------------------ requests


@extend_schema_field(OpenApiTypes.STR)
class TeamRefField(serializers.Field):
    """A team by id (int) or slug (str)."""

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise serializers.ValidationError("a team id or slug")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class NotebookCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    team = TeamRefField(required=False, allow_null=True, default=None)


class NotebookUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)


class DraftSerializer(serializers.Serializer):
    # Cells and config are checked by the service, which names the offending cell ("cells[3].id").
    revision = serializers.IntegerField(min_value=0)
    cells = serializers.JSONField()
    config = serializers.JSONField(required=False, default=dict)


class ClearOutputsSerializer(serializers.Serializer):
    # Checked by the service, by the one rule for cell ids; absent or null: every cell.
    cell_id = serializers.JSONField(required=False, default=None)


class VersionCreateSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class ForkCreateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class GrantCreateSerializer(serializers.Serializer):
    user = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=LABELS)


class GrantUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=LABELS)


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(required=False)
    title = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="")


class VersionRefSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1)
