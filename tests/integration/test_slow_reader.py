"""A player whose client stops reading cannot stall its opponent: messages
from this process wait in its bounded mailbox, and past
``HEX_CHANNEL_CAPACITY`` it is closed with 1011 and resumes by reconnecting."""

from __future__ import annotations

import pytest

from matchmaking.models import Seat
from tests.integration.helpers import BLUE, RED, db, pair, red_resumes_and_plays_on, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_client_that_stops_reading_is_closed_and_its_opponent_plays_on(settings):
    settings.HEX_CHANNEL_CAPACITY = 5
    settings.HEX_RATE_LIMIT_BURST = 1000

    async def scenario() -> None:
        red, blue, _ = await pair(7)
        # Red's socket stops draining: the server's next write to it blocks
        # (the test double of a full TCP send buffer).
        red.comm.output_queue._maxsize = 1
        for n in range(12):
            await blue.send("chat", message=f"hi {n}")
        # Red's backlog never holds blue up, and red's seat is released at
        # once, while red still reads nothing.
        notice = await blue.expect("opponent_disconnected")
        assert notice["reason"] == "waiting_for_reconnect"
        seat = await db(lambda: Seat.objects.get(player=RED))
        assert not seat.connected
        await blue.alive()

        red.comm.output_queue._maxsize = 0  # red reads again: a chat or two, then the close
        texts = []
        while True:
            msg = await red.recv_raw()
            if msg.startswith('{"type":"error"'):
                break
            texts.append(msg)
        assert texts == [f'{{"type":"chat","payload":{{"player":{BLUE},"message":"hi {n}"}}}}'
                         for n in range(len(texts))] and len(texts) <= 2
        assert await red.expect_close() == 1011

        await red_resumes_and_plays_on(red, blue)

    run(scenario())
