"""``/api/games`` and ``/api/games/<id>``: game records for programs.

Filtering is django-filter's (documented in the OpenAPI schema through
drf-spectacular's integration); the bodies come from ``games.selectors`` so
they match the pages and the JSON download.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from games import records, rules, selectors
from games.models import Game

# -- response shapes -------------------------------------------------------------------------


class PlayerSerializer(serializers.Serializer):
    player = serializers.IntegerField(help_text="-1 red (left-right), 1 blue (top-bottom)")
    model = serializers.CharField()
    username = serializers.CharField()


class LinksSerializer(serializers.Serializer):
    page = serializers.CharField(help_text="Replay page")
    sgf = serializers.CharField(help_text="SGF download (HexGui dialect)")
    json = serializers.CharField(help_text="JSON record download")
    api = serializers.CharField()


class GameSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    series_id = serializers.IntegerField()
    game_number = serializers.IntegerField()
    series_length = serializers.IntegerField()
    slot_id = serializers.IntegerField()
    board_size = serializers.IntegerField()
    first_turn = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=[records.STATUS_RUNNING, records.STATUS_FINISHED, records.STATUS_ABANDONED])
    winner = serializers.IntegerField(allow_null=True)
    end_reason = serializers.ChoiceField(choices=Game.EndReason.values, allow_null=True)
    red = PlayerSerializer()
    blue = PlayerSerializer()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    move_count = serializers.IntegerField()
    links = LinksSerializer()


class MoveSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="1-based ply")
    player = serializers.IntegerField()
    q = serializers.IntegerField(help_text="column, 0-based")
    r = serializers.IntegerField(help_text="row, 0-based (board[r][q])")
    cell = serializers.CharField(help_text="SGF/HexGui name: column letter + row number, a1 top-left")


class GameRecordSerializer(GameSummarySerializer):
    format = serializers.IntegerField(help_text="JSON record format version")
    moves = MoveSerializer(many=True)


# -- filters -----------------------------------------------------------------------------------


class GameFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(method="filter_model", help_text="Model name of either player (exact)")
    username = django_filters.CharFilter(method="filter_username", help_text="Username of either player (exact)")
    board_size = django_filters.TypedChoiceFilter(
        field_name="series__board_size", choices=[(s, s) for s in rules.BOARD_SIZES], coerce=int)
    result = django_filters.ChoiceFilter(
        method="filter_result", choices=[(r, r) for r in selectors.RESULTS],
        help_text="red or blue: won by that colour; running; abandoned (never finished)")
    end_reason = django_filters.ChoiceFilter(choices=Game.EndReason.choices)
    series = django_filters.NumberFilter(field_name="series_id")
    started = django_filters.DateFromToRangeFilter(
        field_name="started_at", help_text="started_after / started_before: dates (YYYY-MM-DD), inclusive")

    class Meta:
        model = Game
        fields: list[str] = []

    def filter_model(self, queryset: QuerySet[Game], name: str, value: str) -> QuerySet[Game]:
        return selectors.with_model(queryset, value)

    def filter_username(self, queryset: QuerySet[Game], name: str, value: str) -> QuerySet[Game]:
        return selectors.with_username(queryset, value)

    def filter_result(self, queryset: QuerySet[Game], name: str, value: str) -> QuerySet[Game]:
        return selectors.with_result(queryset, value)


class GamePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


# -- views ---------------------------------------------------------------------------------------


class GameListView(ListAPIView):
    serializer_class = GameSummarySerializer
    pagination_class = GamePagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = GameFilter

    def get_queryset(self) -> QuerySet[Game]:
        return selectors.games()

    @extend_schema(summary="Games, newest first (paginated, filterable)",
                   description="Every game the arena has stored, running ones included. Never contains tokens.")
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = [selectors.summary_of(game) for game in page]
        return self.get_paginated_response(rows)


class GameDetailView(GenericAPIView):
    serializer_class = GameRecordSerializer
    queryset = Game.objects.none()

    @extend_schema(summary="One game's full record with every move",
                   description="The same document as the page's JSON download (/games/<id>.json).")
    def get(self, request: Request, game_id: int) -> Response:
        game = get_object_or_404(Game.objects.select_related("series"), pk=game_id)
        return Response(selectors.detail_of(game))
