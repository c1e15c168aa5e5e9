"""--keep-slot asks once per finished series, whatever else arrives meanwhile."""

from __future__ import annotations

import asyncio

from clients.connection import Message
from clients.game_state import GameView
from clients.replay import ReplayLog
from clients.runner import SeriesRunner


class KeepCounter:
    """The one client call these messages can cause."""

    def __init__(self) -> None:
        self.keeps = 0

    async def keep_slot(self) -> bool:
        self.keeps += 1
        return True


def messages() -> list[Message]:
    series = {"player_1_wins": 0, "player_2_wins": 1, "wins_required": 1, "series_length": 1}
    return [
        Message("joined", {"slot_id": 1, "player": 1, "color": "red", "board_size": 7, "series_length": 1,
                           "reconnect_token": "t", "protocol_version": 1}),
        Message("game_start", {"slot_id": 1, "board_size": 7, "series_length": 1, "players": [1, -1],
                               "first_turn": 1, "current_game_number": 1, "player_1_wins": 0, "player_2_wins": 0,
                               "wins_required": 1, "player_models": {}, "player_usernames": {}}),
        Message("series_over", {"winner": -1, **series}),
        # The opponent's client closes as soon as it has read series_over, so
        # this can overtake the answer to our keep_slot.
        Message("opponent_disconnected", {"message": "Your opponent disconnected", "reason": "waiting_for_reconnect",
                                          "reconnect_timeout_seconds": 30}),
        Message("slot_kept", {"slot_id": 1, "player": 1, "color": "red", "board_size": 7, "series_length": 1,
                              "reconnect_token": "u", "protocol_version": 1}),
        Message("waiting_for_opponent", {"slot_id": 1, "board_size": 7}),
    ]


def test_opponent_leaving_after_series_over_does_not_ask_to_keep_the_slot_twice():
    client = KeepCounter()
    runner = SeriesRunner(client, GameView(7), decider=None, replay=ReplayLog(None), keep_slot=True)  # type: ignore[arg-type]

    async def feed() -> list[int | None]:
        return [await runner._handle(message) for message in messages()]

    assert asyncio.run(feed()) == [None] * 6  # nothing ends the session
    assert client.keeps == 1
