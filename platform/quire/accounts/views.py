"""Account pages and the API-token endpoints."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quire.accounts import services
from quire.accounts.admins import is_site_admin
from quire.accounts.models import ApiToken


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class TokenListView(APIView):
    def get(self, request: Request) -> Response:
        tokens = ApiToken.objects.filter(user=request.user)
        return Response(ApiTokenSerializer(tokens, many=True).data)

    def post(self, request: Request) -> Response:
        body = TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.do_issue_token(request.user, name=body.validated_data["name"])
        data = dict(ApiTokenSerializer(issued.token).data)
        data["key"] = issued.key
        return Response(data, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    def delete(self, request: Request, token_id: int) -> Response:
        services.do_revoke_token(request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"id": user.pk, "username": user.get_username(), "is_site_admin": is_site_admin(user)})
