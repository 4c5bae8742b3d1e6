"""REST endpoints for sharing a notebook (grants to users and teams) and reading its audit log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from notebooks import sharing
from notebooks.http import NotebookAPIView
from notebooks.serializers import (
    AuditEntrySerializer,
    GrantCreateSerializer,
    GrantSerializer,
    GrantUpdateSerializer,
)
from quire.lib.pagination import PAGE, Pagination, paginated
from quire.lib.responses import created


class GrantListView(NotebookAPIView):
    pagination_class = Pagination  # the schema's page shape; paginated() uses the same
    @extend_schema(parameters=PAGE, responses=GrantSerializer(many=True))
    def get(self, request: Request, notebook_id: int) -> Response:
        return paginated(request, self, sharing.list_grants(request.user, notebook_id),
                         lambda page: GrantSerializer(page, many=True).data)

    @extend_schema(request=GrantCreateSerializer, responses={201: GrantSerializer})
    def post(self, request: Request, notebook_id: int) -> Response:
        body = GrantCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        grant = sharing.check_share(
            request.user, notebook_id, username=body.validated_data["user"] or None,
            team_slug=body.validated_data["team"] or None, role=body.validated_data["role"],
        )
        return created(request, GrantSerializer(grant).data, view_name="api-notebook-grant", notebook_id=notebook_id,
                       grant_id=grant.pk)


class GrantDetailView(NotebookAPIView):
    @extend_schema(request=GrantUpdateSerializer, responses=GrantSerializer)
    def patch(self, request: Request, notebook_id: int, grant_id: int) -> Response:
        body = GrantUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        grant = sharing.check_change_grant(request.user, notebook_id, grant_id, role=body.validated_data["role"])
        return Response(GrantSerializer(grant).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, notebook_id: int, grant_id: int) -> Response:
        sharing.check_unshare(request.user, notebook_id, grant_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditView(NotebookAPIView):
    pagination_class = Pagination  # the schema's page shape; paginated() uses the same
    @extend_schema(parameters=PAGE, responses=AuditEntrySerializer(many=True))
    def get(self, request: Request, notebook_id: int) -> Response:
        return paginated(request, self, sharing.list_audit(request.user, notebook_id),
                         lambda page: AuditEntrySerializer(page, many=True).data)
