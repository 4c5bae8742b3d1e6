"""REST endpoints for quotas: site admins set them (everyone reads their own with their use at kernels.views)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quire.accounts.permissions import IsSiteAdmin
from quire.lib.pagination import PAGE, Pagination, paginated
from quire.lib.responses import created
from quire.quotas import services
from quire.quotas.models import Quota


class QuotaSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Quota
        fields = ["id", "scope", "team", "user", *services.LIMIT_FIELDS, "updated_at"]
        read_only_fields = ["id", "scope", "team", "user", "updated_at"]


class QuotaTargetSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=Quota.Scope.values)
    team = serializers.SlugField(required=False)
    user = serializers.CharField(required=False)


class QuotaListView(APIView):
    pagination_class = Pagination  # the schema's page shape; paginated() uses the same
    permission_classes = [IsSiteAdmin]

    @extend_schema(operation_id="quotas_list", parameters=PAGE, responses=QuotaSerializer(many=True))
    def get(self, request: Request) -> Response:
        quotas = Quota.objects.select_related("team", "user").order_by("scope", "id")
        return paginated(request, self, quotas, lambda page: QuotaSerializer(page, many=True).data)

    @extend_schema(request=QuotaSerializer, responses={201: QuotaSerializer})
    def post(self, request: Request) -> Response:
        target = QuotaTargetSerializer(data=request.data)
        target.is_valid(raise_exception=True)
        limits = QuotaSerializer(data=request.data, partial=True)
        limits.is_valid(raise_exception=True)
        quota = services.check_create_quota(request.user, **target.validated_data, limits=limits.validated_data)
        return created(request, QuotaSerializer(quota).data, view_name="api-quota", quota_id=quota.pk)


class QuotaDetailView(APIView):
    permission_classes = [IsSiteAdmin]

    @extend_schema(responses=QuotaSerializer)
    def get(self, request: Request, quota_id: int) -> Response:
        return Response(QuotaSerializer(services.get_quota(quota_id)).data)

    @extend_schema(request=QuotaSerializer, responses=QuotaSerializer)
    def patch(self, request: Request, quota_id: int) -> Response:
        limits = QuotaSerializer(data=request.data, partial=True)
        limits.is_valid(raise_exception=True)
        quota = services.check_update_quota(request.user, quota_id, limits=limits.validated_data)
        return Response(QuotaSerializer(quota).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, quota_id: int) -> Response:
        services.check_delete_quota(request.user, quota_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
