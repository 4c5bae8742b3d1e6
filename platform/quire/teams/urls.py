"""REST routes for teams."""

from __future__ import annotations

from django.urls import path

from quire.teams.views import TeamDetailView, TeamListView, TeamMembersView, TeamMemberView

urlpatterns = [
    path("teams/", TeamListView.as_view(), name="api-teams"),
    path("teams/<slug:slug>/", TeamDetailView.as_view(), name="api-team"),
    path("teams/<slug:slug>/members/", TeamMembersView.as_view(), name="api-team-members"),
    path("teams/<slug:slug>/members/<str:username>/", TeamMemberView.as_view(), name="api-team-member"),
]
