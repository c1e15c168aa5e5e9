"""What a connection and a game start leave behind is freed by reference
counting alone: under load, the cyclic collector's collections of it stalled
the event loop for 15-50 ms (README, benchmark section)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from games.models import Series
from matchmaking import consumer_loop, row_sql
from matchmaking.consumers import SeatConsumer
from matchmaking.models import Slot
from tests.integration.helpers import pair, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_cyclic_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_closed_connections_consumer_is_freed_at_once(no_cyclic_collector):
    async def scenario():
        red, blue, _ = await pair(7)
        await red.move(0, 0)
        await red.expect("move")
        consumers = [weakref.ref(c) for c in consumer_loop._local.values() if isinstance(c, SeatConsumer)]
        assert len(consumers) == 2
        await red.close()
        await blue.close()
        for _ in range(100):  # their tasks finish their last turn
            if not consumer_loop._local:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        return [ref() is None for ref in consumers]

    assert run(scenario()) == [True, True]


def test_attaching_a_series_to_its_slot_makes_no_cycle(no_cyclic_collector):
    slot, series = Slot(id=1), Series(id=7, slot_id=1, board_size=7, series_length=1, first_player=-1)
    row_sql.attach(slot, "series", series)
    assert slot.series is series and slot.series_id == 7
    slot_ref, series_ref = weakref.ref(slot), weakref.ref(series)
    del slot, series
    assert slot_ref() is None and series_ref() is None
