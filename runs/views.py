"""REST endpoints of runs: a version's lock and the difference between two versions' locks."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from notebooks.http import NotebookAPIView
from runs import services


class VersionLockView(NotebookAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, description="What the version was saved with (its lock).")
    def get(self, request: Request, notebook_id: int, number: int) -> Response:
        return Response(services.get_lock(request.user, notebook_id, number))


class LockDiffView(NotebookAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("from", int, required=True), OpenApiParameter("to", int, required=True)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, notebook_id: int) -> Response:
        return Response(services.check_lock_diff(request.user, notebook_id,
                                                 from_ref=request.query_params.get("from"),
                                                 to_ref=request.query_params.get("to")))
