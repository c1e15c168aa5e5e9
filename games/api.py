"""``/api/games`` and ``/api/games/<id>``: game records for programs.

Filtering is django-filter's (documented in the OpenAPI schema through
drf-spectacular's integration); the bodies come from ``games.selectors`` so
they match the pages and the JSON download.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from games import records, rules, selectors
from games.models import Game
from stats.serializers import ErrorSerializer

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


class FilterErrorsSerializer(serializers.DictField):
    """What a refused filter gets back: ``{"parameter": ["why", ...]}``."""

    child = serializers.ListField(child=serializers.CharField())


# -- filters -----------------------------------------------------------------------------------


# Database ids are 64-bit; the schema says so, so a schema-valid id is never refused.
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class GameFilterForm(forms.Form):
    """Refuses a typed filter given empty (``?started_after=``): the schema
    promises a date, a number or a choice there, and silently ignoring it
    would return games the caller did not ask for."""

    TYPED = ("board_size", "result", "end_reason", "series", "started_after", "started_before")

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in self.TYPED:
            if name in self.data and not str(self.data.get(name, "")).strip():
                self.add_error(None, f"{name} may not be empty")
        return cleaned


class GameFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(method="filter_model", help_text="Model name of either player (exact)")
    username = django_filters.CharFilter(method="filter_username", help_text="Username of either player (exact)")
    board_size = django_filters.TypedChoiceFilter(
        field_name="series__board_size", choices=[(s, s) for s in rules.BOARD_SIZES], coerce=int)
    result = django_filters.ChoiceFilter(
        method="filter_result", choices=[(r, r) for r in selectors.RESULTS],
        help_text="red or blue: won by that colour; running; abandoned (never finished)")
    end_reason = django_filters.ChoiceFilter(choices=Game.EndReason.choices)
    series = IdFilter(field_name="series_id", help_text="Only games of this series")
    started = django_filters.DateFromToRangeFilter(
        field_name="started_at", help_text="started_after / started_before: dates (YYYY-MM-DD), inclusive")

    class Meta:
        model = Game
        fields: list[str] = []
        form = GameFilterForm

    def filter_model(self, queryset: QuerySet[Game], name: str, value: str) -> QuerySet[Game]:
        return selectors.with_model(queryset, value)

    def filter_username(self, queryset: QuerySet[Game], name: str, value: str) -> QuerySet[Game]:
        return selectors.with_username(queryset, value)

    def filter_result(self, queryset: QuerySet[Game], name: str, value: str) -> QuerySet[Game]:
        return selectors.with_result(queryset, value)


def _positive_integer(raw: str) -> bool:
    return raw.isascii() and raw.isdigit() and int(raw) >= 1


class GamePagination(PageNumberPagination):
    """Pages of 20; ``page_size`` a positive integer, capped at 100, and
    ``page`` a positive integer. Anything else is a 400: DRF's own pagination
    quietly falls back to the default size, and reads an empty ``page`` as
    the first page. A page past the last is a 404."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _positive_integer(raw):
            raise ValidationError({self.page_size_query_param: ["a positive integer (at most 100 are returned)"]})
        return min(int(raw), self.max_page_size)

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: object = None) -> list | None:
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not _positive_integer(raw):
            raise ValidationError({self.page_query_param: ["a positive integer"]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: object) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1)
            elif parameter["name"] == self.page_query_param:
                parameter["schema"].update(minimum=1)
        return parameters


# -- views ---------------------------------------------------------------------------------------


class GameListView(ListAPIView):
    serializer_class = GameSummarySerializer
    pagination_class = GamePagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = GameFilter

    def get_queryset(self) -> QuerySet[Game]:
        return selectors.games()

    @extend_schema(summary="Games, newest first (paginated, filterable)",
                   description="Every game the arena has stored, running ones included. Never contains tokens.",
                   responses={200: GameSummarySerializer(many=True),
                              400: OpenApiResponse(FilterErrorsSerializer(),
                                                   description="Invalid filter values: the messages by parameter"),
                              404: OpenApiResponse(ErrorSerializer, description="No such page")})
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = [selectors.summary_of(game) for game in page]
        return self.get_paginated_response(rows)


class GameDetailView(GenericAPIView):
    serializer_class = GameRecordSerializer
    queryset = Game.objects.none()

    @extend_schema(summary="One game's full record with every move",
                   description="The same document as the page's JSON download (/games/<id>.json).",
                   responses={200: GameRecordSerializer,
                              404: OpenApiResponse(ErrorSerializer, description="No such game")})
    def get(self, request: Request, game_id: int) -> Response:
        game = get_object_or_404(Game.objects.select_related("series"), pk=game_id)
        return Response(selectors.detail_of(game))
