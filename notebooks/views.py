"""Notebook pages (HTML shells for the front end) and the REST endpoints for notebooks, drafts, import and export."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from kernels.messages import OutputsCleared
from notebooks import interchange, services
from notebooks.http import IpynbMediaParser, IpynbParser, NotebookAPIView, RawNotebook
from notebooks.roles import Role, roles_for_many
from notebooks.serializers import (
    ClearOutputsSerializer,
    DraftSerializer,
    ImportSerializer,
    NotebookCreateSerializer,
    NotebookDetailSerializer,
    NotebookSummarySerializer,
    NotebookUpdateSerializer,
    OutputsClearedSerializer,
    RevisionSerializer,
    VersionRefSerializer,
    notebook_detail,
)
from notebooks.snapshot import detail_cells, get_output_page
from notebooks.validation import check_cell_id
from notebooks.versioning import fork_origin
from quire.lib.errors import InvalidInput, QuireError
from quire.lib.pagination import Pagination
from quire.lib.responses import created


@login_required
def notebook_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "notebooks/app.html", {"page": "notebook-list", "notebook_id": ""})


@login_required
def profile_page(request: HttpRequest) -> HttpResponse:
    return render(request, "notebooks/app.html", {"page": "profile", "notebook_id": "", "title": "Profile"})


@login_required
def notebook_page(request: HttpRequest, notebook_id: int) -> HttpResponse:
    try:
        notebook, _ = services.get_notebook(request.user, notebook_id)
    except QuireError as exc:
        raise Http404("no such notebook") from exc
    return render(
        request, "notebooks/app.html", {"page": "notebook", "notebook_id": notebook.pk, "title": notebook.title}
    )


class NotebookListView(NotebookAPIView):
    pagination_class = Pagination  # the schema's page shape; paginated() uses the same
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="search titles"),
            OpenApiParameter("filter", str, enum=list(services.FILTERS)),
            OpenApiParameter("team", str, description="a team's slug"),
            OpenApiParameter("limit", int), OpenApiParameter("offset", int),
        ],
        responses=NotebookSummarySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        notebooks = services.list_notebooks(
            request.user, query=request.query_params.get("q", ""), which=request.query_params.get("filter", ""),
            team_slug=request.query_params.get("team", ""),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(notebooks, request, view=self) or []
        roles = roles_for_many(request.user, page)
        return paginator.get_paginated_response(
            NotebookSummarySerializer(page, many=True, context={"roles": roles}).data
        )

    @extend_schema(request=NotebookCreateSerializer, responses={201: NotebookSummarySerializer})
    def post(self, request: Request) -> Response:
        body = NotebookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team_id = services.resolve_team(request.user, body.validated_data["team"])
        notebook = services.do_create_notebook(request.user, title=body.validated_data["title"], team_id=team_id)
        return created(request, NotebookSummarySerializer(notebook, context={"role": Role.OWNER}).data,
                       view_name="api-notebook", notebook_id=notebook.pk)


class NotebookDetailView(NotebookAPIView):
    @extend_schema(parameters=[OpenApiParameter("outputs", str, enum=["all", "heads"])],
                   responses=NotebookDetailSerializer)
    def get(self, request: Request, notebook_id: int) -> Response:
        notebook, role = services.get_notebook(request.user, notebook_id)
        cells = detail_cells(notebook, outputs=request.query_params.get("outputs"))
        origin = fork_origin(request.user, notebook)
        return Response(notebook_detail(notebook, cells, role, origin))

    @extend_schema(request=NotebookUpdateSerializer, responses=NotebookSummarySerializer)
    def patch(self, request: Request, notebook_id: int) -> Response:
        body = NotebookUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        notebook = services.check_rename(request.user, notebook_id, title=body.validated_data["title"])
        return Response(NotebookSummarySerializer(notebook, context={"role": Role.OWNER}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, notebook_id: int) -> Response:
        services.check_delete_notebook(request.user, notebook_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DraftView(NotebookAPIView):
    @extend_schema(request=DraftSerializer, responses={200: RevisionSerializer})
    def put(self, request: Request, notebook_id: int) -> Response:
        body = DraftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.check_replace_draft(
            request.user, notebook_id, revision=body.validated_data["revision"],
            cells=body.validated_data["cells"], config=body.validated_data["config"],
        )
        return Response({"revision": change.revision})


class ClearOutputsView(NotebookAPIView):
    @extend_schema(request=ClearOutputsSerializer, responses={200: OutputsClearedSerializer})
    def post(self, request: Request, notebook_id: int) -> Response:
        body = ClearOutputsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cell_id = body.validated_data["cell_id"]
        change = services.check_clear_outputs(
            request.user, notebook_id, cell_id=None if cell_id is None else check_cell_id(cell_id)
        )
        assert isinstance(change.result, OutputsCleared)
        return Response({"revision": change.revision, "cell_ids": change.result.cell_ids})


class OutputPageView(NotebookAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("offset", int), OpenApiParameter("limit", int)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, notebook_id: int, cell_id: str, n: int) -> Response:
        return Response(get_output_page(
            request.user, notebook_id, cell_id=cell_id, n=n,
            offset=request.query_params.get("offset"), limit=request.query_params.get("limit"),
        ))


class ImportView(NotebookAPIView):
    parser_classes = [IpynbParser, IpynbMediaParser, MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ImportSerializer, "application/json": OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("title", str), OpenApiParameter("team", str)],
        responses={201: NotebookSummarySerializer},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if isinstance(data, RawNotebook):
            content, name = bytes(data), "notebook.ipynb"
            fields = request.query_params
        else:
            upload = data.get("file")
            if upload is None:
                raise InvalidInput("send the .ipynb as a 'file' form field or as the JSON body", field="file")
            if upload.size > interchange.MAX_IMPORT_BYTES:
                raise InvalidInput(f"an imported file is limited to {interchange.MAX_IMPORT_BYTES} bytes", field="file")
            content, name = upload.read(), upload.name or "notebook.ipynb"
            fields = data
        if not content:
            raise InvalidInput("the file is empty", field="file")
        imported = interchange.check_import_file(
            request.user, content, name=name, title=fields.get("title", ""), team=fields.get("team") or None
        )
        notebook = imported.notebook
        body = {**NotebookSummarySerializer(notebook, context={"role": Role.OWNER}).data,
                "file_problems": imported.problems}
        return created(request, body, view_name="api-notebook", notebook_id=notebook.pk)


class ExportView(NotebookAPIView):
    @extend_schema(parameters=[VersionRefSerializer], responses={(200, "application/x-ipynb+json"): OpenApiTypes.OBJECT})
    def get(self, request: Request, notebook_id: int) -> HttpResponse:
        query = VersionRefSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version = query.validated_data.get("version")
        notebook, document = interchange.check_export(request.user, notebook_id, version=version)
        name = slugify(notebook.title) or f"notebook-{notebook.pk}"
        if version is not None:
            name += f"-v{version}"
        response = HttpResponse(json.dumps(document, indent=1), content_type="application/x-ipynb+json")
        response["Content-Disposition"] = f'attachment; filename="{name}.ipynb"'
        return response
