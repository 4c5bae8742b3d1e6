"""REST endpoints for teams and their members."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quire.lib.pagination import PAGE, Pagination, paginated
from quire.lib.responses import created
from quire.teams import services
from quire.teams.models import Membership, Team


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["username", "role", "joined_at"]


class TeamSerializer(serializers.ModelSerializer):
    members = MembershipSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["name", "slug", "created_at", "members"]


class TeamCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.CharField(max_length=10, default=Membership.Role.MEMBER)


class TeamListView(APIView):
    pagination_class = Pagination  # the schema's page shape; paginated() uses the same
    @extend_schema(operation_id="teams_list", parameters=PAGE, responses=TeamSerializer(many=True))
    def get(self, request: Request) -> Response:
        teams = services.visible_teams(request.user).prefetch_related("memberships__user")
        return paginated(request, self, teams, lambda page: TeamSerializer(page, many=True).data)

    @extend_schema(request=TeamCreateSerializer, responses={201: TeamSerializer})
    def post(self, request: Request) -> Response:
        body = TeamCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = services.do_create_team(request.user, name=body.validated_data["name"])
        return created(request, TeamSerializer(team).data, view_name="api-team", slug=team.slug)


class TeamDetailView(APIView):
    @extend_schema(responses=TeamSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(TeamSerializer(services.get_team(request.user, slug)).data)


class TeamMembersView(APIView):
    @extend_schema(request=MemberSerializer, responses=MembershipSerializer)
    def post(self, request: Request, slug: str) -> Response:
        team = services.get_team(request.user, slug)
        body = MemberSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = services.check_set_member(request.user, team, **body.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_200_OK)


class TeamMemberView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, username: str) -> Response:
        team = services.get_team(request.user, slug)
        services.check_remove_member(request.user, team, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)
