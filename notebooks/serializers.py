"""REST representations of notebooks."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from notebooks.models import Notebook


class NotebookSummarySerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True, default=None)

    class Meta:
        model = Notebook
        fields = ["id", "title", "owner", "team", "revision", "created_at", "updated_at"]


class NotebookCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    team = serializers.IntegerField(required=False, allow_null=True, default=None)


class NotebookUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)


def notebook_detail(notebook: Notebook, cells: list[dict[str, Any]], role: str) -> dict[str, Any]:
    return {
        **NotebookSummarySerializer(notebook).data,
        "cells": cells,
        "config": notebook.config,
        "role": role,
    }
