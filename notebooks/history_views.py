"""REST endpoints for a notebook's history: versions, diffs, restoring and forking."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from notebooks import versioning
from notebooks.http import NotebookAPIView
from notebooks.roles import Role
from notebooks.serializers import (
    DiffSerializer,
    ForkCreateSerializer,
    ForkSerializer,
    NotebookSummarySerializer,
    RestoredSerializer,
    UnchangedVersionSerializer,
    VersionCreateSerializer,
    VersionDetailSerializer,
    VersionSerializer,
)
from quire.lib.pagination import PAGE, Pagination, paginated
from quire.lib.responses import created


class VersionListView(NotebookAPIView):
    pagination_class = Pagination  # the schema's page shape; paginated() uses the same
    @extend_schema(parameters=PAGE, responses=VersionSerializer(many=True))
    def get(self, request: Request, notebook_id: int) -> Response:
        return paginated(request, self, versioning.list_versions(request.user, notebook_id),
                         lambda page: VersionSerializer(page, many=True).data)

    @extend_schema(
        request=VersionCreateSerializer,
        responses={201: VersionSerializer, 200: UnchangedVersionSerializer},
        description="Save the draft as a version; 200 with unchanged=true when it equals the head version.",
    )
    def post(self, request: Request, notebook_id: int) -> Response:
        body = VersionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = versioning.check_save_version(request.user, notebook_id, message=body.validated_data["message"])
        version = VersionSerializer(saved.version).data
        if not saved.created:
            return Response({"unchanged": True, "version": version})
        return created(request, version, view_name="api-notebook-version", notebook_id=notebook_id,
                       number=saved.version.number)


class VersionDetailView(NotebookAPIView):
    @extend_schema(responses=VersionDetailSerializer)
    def get(self, request: Request, notebook_id: int, number: int) -> Response:
        version = versioning.get_version(request.user, notebook_id, number)
        return Response({**VersionSerializer(version).data, "cells": version.cells, "config": version.config})


class DiffView(NotebookAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="a version number (default: the head version) or 'draft'"),
            OpenApiParameter("to", str, description="a version number or 'draft' (the default)"),
        ],
        responses=DiffSerializer,
    )
    def get(self, request: Request, notebook_id: int) -> Response:
        return Response(versioning.check_diff(
            request.user, notebook_id,
            from_ref=request.query_params.get("from"), to_ref=request.query_params.get("to"),
        ))


class RestoreView(NotebookAPIView):
    @extend_schema(request=None, responses=RestoredSerializer)
    def post(self, request: Request, notebook_id: int, number: int) -> Response:
        restored = versioning.check_restore(request.user, notebook_id, number)
        return Response({
            "revision": restored.revision,
            "version": VersionSerializer(restored.saved.version).data,
            "unchanged": not restored.saved.created,
        })


class ForkView(NotebookAPIView):
    @extend_schema(request=ForkCreateSerializer, responses={201: NotebookSummarySerializer})
    def post(self, request: Request, notebook_id: int, number: int) -> Response:
        body = ForkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fork = versioning.check_fork(request.user, notebook_id, number, title=body.validated_data["title"])
        return created(request, NotebookSummarySerializer(fork, context={"role": Role.OWNER}).data,
                       view_name="api-notebook", notebook_id=fork.pk)


class ForkListView(NotebookAPIView):
    pagination_class = Pagination  # the schema's page shape; paginated() uses the same
    @extend_schema(parameters=PAGE, responses=ForkSerializer(many=True))
    def get(self, request: Request, notebook_id: int) -> Response:
        return paginated(request, self, versioning.list_forks(request.user, notebook_id),
                         lambda page: ForkSerializer(page, many=True).data)
