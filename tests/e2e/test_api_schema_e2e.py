"""schemathesis against the live server's own OpenAPI schema: generated
requests (valid, and invalid in every way the schema allows) to every documented operation get no
5xx, and every response conforms to the schema it documents.

The operations are driven with hypothesis directly rather than through
schemathesis' pytest plugin (its ``from_fixture`` does not run under pytest 9).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.support.bots import play_pair
from tests.support.live import http_json

pytestmark = pytest.mark.e2e


def test_every_documented_operation_conforms_and_never_fails(daphne_server):
    # Real content to conform: a finished series in the statistics, and its
    # players still seated so /slots shows a full slot with a board.
    hold = threading.Event()
    pair: list = []
    player = threading.Thread(target=lambda: pair.extend(asyncio.run(play_pair(daphne_server.ws_url, hold=hold))))
    player.start()
    try:
        while not (pair or http_json(f"{daphne_server.http_url}/api/statistics")["totals"]["matches"]):
            time.sleep(0.05)
        check_every_operation(daphne_server.http_url)
    finally:
        hold.set()
        player.join(timeout=60)
    assert pair and pair[0].series_over is not None


def check_every_operation(base_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = sorted(op.path for op in operations)
    assert paths == ["/api/games", "/api/games/{game_id}", "/api/statistics", "/health", "/slots"]
    for operation, mode in [(op, mode) for op in operations for mode in GenerationMode]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.call_and_validate()

        try:
            check()
        except Unsatisfiable:
            # No parameters (/health, /slots): there is no invalid request to make.
            assert mode is GenerationMode.NEGATIVE and operation.path != "/api/statistics"
