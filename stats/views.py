"""The HTTP API: health, slot list and statistics (reference shapes)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from games import rules
from matchmaking.snapshots import list_slot_snapshots
from stats import selectors
from stats.serializers import ErrorSerializer, HealthSerializer, SlotSnapshotSerializer, StatisticsSerializer


class HealthView(APIView):
    @extend_schema(responses=HealthSerializer, summary="Liveness check")
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class SlotListView(APIView):
    @extend_schema(
        responses=SlotSnapshotSerializer(many=True),
        summary="Every slot's public state",
        description="All slots, empty ones included. Never contains reconnect tokens.",
    )
    def get(self, request: Request) -> Response:
        return Response(list_slot_snapshots())


class StatisticsView(APIView):
    @extend_schema(
        responses={200: StatisticsSerializer,
                   400: OpenApiResponse(ErrorSerializer, description="board_size is not a supported size")},
        summary="Leaderboard and totals from completed series",
        parameters=[OpenApiParameter("board_size", int, description="Only series on this board size",
                                     enum=list(rules.BOARD_SIZES))],
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("board_size")
        # Compare as text: str.isdigit() admits characters int() rejects ("²").
        sizes = {str(size): size for size in rules.BOARD_SIZES}
        board_size = sizes.get(raw) if raw else None
        if raw and board_size is None:
            return Response({"detail": f"board_size must be one of {list(rules.BOARD_SIZES)}"}, status=400)
        return Response(selectors.statistics(board_size))


def api_not_found(request: HttpRequest) -> JsonResponse:
    """The JSON 404 of every unmatched path under /api/ (DRF's shape)."""
    return JsonResponse({"detail": "Not found."}, status=404)
