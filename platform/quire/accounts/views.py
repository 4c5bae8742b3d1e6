"""Account pages (sign-in) and the API-token endpoints."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quire.accounts import services
from quire.accounts.admins import is_site_admin
from quire.accounts.forms import SignInForm
from quire.accounts.models import ApiToken
from quire.lib.pagination import PAGE, Pagination, paginated
from quire.lib.responses import created


class SignInView(auth_views.LoginView):
    """Django's login page with the throttled form: refused for too many failures it answers 429."""

    template_name = "accounts/login.html"
    form_class = SignInForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_site_admin = serializers.BooleanField()


class TokenListView(APIView):
    pagination_class = Pagination  # the schema's page shape; paginated() uses the same
    @extend_schema(parameters=PAGE, responses=ApiTokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        tokens = ApiToken.objects.filter(user=request.user).order_by("id")
        return paginated(request, self, tokens, lambda page: ApiTokenSerializer(page, many=True).data)

    @extend_schema(request=TokenCreateSerializer, responses={201: ApiTokenSerializer})
    def post(self, request: Request) -> Response:
        body = TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.do_issue_token(request.user, name=body.validated_data["name"])
        data = dict(ApiTokenSerializer(issued.token).data)
        data["key"] = issued.key
        return created(request, data, view_name="api-token", token_id=issued.token.pk)


class TokenDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        services.do_revoke_token(request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"id": user.pk, "username": user.get_username(), "is_site_admin": is_site_admin(user)})
