"""Notebook pages (HTML shells for the front end) and the notebook REST endpoints."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notebooks import services
from notebooks.serializers import (
    NotebookCreateSerializer,
    NotebookSummarySerializer,
    NotebookUpdateSerializer,
    notebook_detail,
)
from notebooks.snapshot import cells_with_outputs
from quire.lib.errors import QuireError


@login_required
def notebook_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "notebooks/app.html", {"page": "notebook-list", "notebook_id": ""})


@login_required
def notebook_page(request: HttpRequest, notebook_id: int) -> HttpResponse:
    try:
        notebook, _ = services.get_notebook(request.user, notebook_id)
    except QuireError as exc:
        raise Http404("no such notebook") from exc
    return render(
        request, "notebooks/app.html", {"page": "notebook", "notebook_id": notebook.pk, "title": notebook.title}
    )


class NotebookListView(APIView):
    @extend_schema(responses=NotebookSummarySerializer(many=True))
    def get(self, request: Request) -> Response:
        notebooks = services.visible_notebooks(request.user).select_related("owner", "team")
        query = request.query_params.get("q")
        if query:
            notebooks = notebooks.filter(title__icontains=query)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(notebooks, request, view=self)
        return paginator.get_paginated_response(NotebookSummarySerializer(page, many=True).data)

    @extend_schema(request=NotebookCreateSerializer, responses={201: NotebookSummarySerializer})
    def post(self, request: Request) -> Response:
        body = NotebookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        notebook = services.do_create_notebook(
            request.user, title=body.validated_data["title"], team_id=body.validated_data["team"]
        )
        return Response(NotebookSummarySerializer(notebook).data, status=status.HTTP_201_CREATED)


class NotebookDetailView(APIView):
    def get(self, request: Request, notebook_id: int) -> Response:
        notebook, role = services.get_notebook(request.user, notebook_id)
        return Response(notebook_detail(notebook, cells_with_outputs(notebook), role.label))

    @extend_schema(request=NotebookUpdateSerializer, responses=NotebookSummarySerializer)
    def patch(self, request: Request, notebook_id: int) -> Response:
        body = NotebookUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        notebook = services.check_rename(request.user, notebook_id, title=body.validated_data["title"])
        return Response(NotebookSummarySerializer(notebook).data)
