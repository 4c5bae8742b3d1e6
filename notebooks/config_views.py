"""REST endpoints for a notebook's configuration panel: read and replace the config, see and rebuild its environments."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from notebooks import configuration
from notebooks.http import NotebookAPIView


class ConfigWriteSerializer(serializers.Serializer):
    # The config itself is checked by the service, which names the offending entry ("config.dependencies.python[2]").
    config = serializers.JSONField()
    revision = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)


class ConfigView(NotebookAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, description="The configuration and its environments' state.")
    def get(self, request: Request, notebook_id: int) -> Response:
        return Response(configuration.get_config(request.user, notebook_id))

    @extend_schema(request=ConfigWriteSerializer, responses=OpenApiTypes.OBJECT,
                   description="Replace the configuration (editors); its environments start building.")
    def put(self, request: Request, notebook_id: int) -> Response:
        body = ConfigWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(configuration.check_set_config(
            request.user, notebook_id, config=body.validated_data["config"], revision=body.validated_data["revision"]
        ))


class RebuildView(NotebookAPIView):
    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT},
                   description="Build the configuration's environments again from scratch (editors).")
    def post(self, request: Request, notebook_id: int) -> Response:
        return Response(configuration.check_rebuild(request.user, notebook_id), status=status.HTTP_202_ACCEPTED)
