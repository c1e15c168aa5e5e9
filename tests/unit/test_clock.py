"""Clock arithmetic on a game-like object, with explicit instants (no waiting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from games.rules import BLUE, RED
from matchmaking import clock
from matchmaking.clock import TimeControl

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def game() -> SimpleNamespace:
    return SimpleNamespace(clock_ms=None, turn_started_at=None, turn_deadline=None, current_turn=RED, winner=None)


@pytest.fixture(autouse=True)
def _no_server_limit(settings):
    settings.HEX_MAX_MOVE_SECONDS = 0.0


@pytest.mark.parametrize("control", [TimeControl(per_move_ms=30000), TimeControl(base_ms=300000, increment_ms=5000),
                                     TimeControl(base_ms=60000)])
def test_codes_round_trip_and_differ(control):
    assert TimeControl.from_code(control.code) == control
    assert TimeControl.from_code("") is None


def test_fischer_spends_time_adds_the_increment_and_pauses_exactly():
    control = TimeControl(base_ms=60000, increment_ms=2000)
    g = game()
    clock.init_game(g, control)
    clock.start_turn(g, control, RED, at(0))
    assert g.turn_deadline == at(60)
    clock.stop_turn(g, control, RED, at(5.5), moved=True)
    assert g.clock_ms == {"-1": 56500, "1": 60000} and g.turn_deadline is None
    g.current_turn = BLUE
    clock.start_turn(g, control, BLUE, at(5.5))
    clock.stop_turn(g, control, BLUE, at(15.5), moved=False)  # paused: no increment
    assert g.clock_ms["1"] == 50000
    clock.start_turn(g, control, BLUE, at(1000), fresh=False)  # resumes where it stopped
    assert g.turn_deadline == at(1050)
    assert clock.remaining_ms(g, control, at(1010)) == {"-1": 56500, "1": 40000}
    assert not clock.is_due(g, at(1049.999)) and clock.is_due(g, at(1050))


def test_per_move_limit_starts_over_every_turn_but_not_after_a_pause():
    control = TimeControl(per_move_ms=10000)
    g = game()
    clock.init_game(g, control)
    clock.start_turn(g, control, RED, at(0))
    clock.stop_turn(g, control, RED, at(4), moved=False)
    clock.start_turn(g, control, RED, at(100), fresh=False)
    assert g.turn_deadline == at(106)
    clock.stop_turn(g, control, RED, at(101), moved=True)
    assert g.clock_ms["-1"] == 10000
    clock.start_turn(g, control, BLUE, at(101))
    assert g.turn_deadline == at(111)


def test_server_wide_limit_caps_every_turn_and_applies_without_a_clock(settings):
    settings.HEX_MAX_MOVE_SECONDS = 5.0
    g = game()
    clock.init_game(g, None)
    assert clock.has_deadlines(None)
    clock.start_turn(g, None, RED, at(0))
    assert g.turn_deadline == at(5) and g.clock_ms is None
    control = TimeControl(base_ms=3000)
    clock.init_game(g, control)
    clock.start_turn(g, control, RED, at(0))
    assert g.turn_deadline == at(3)
    settings.HEX_MAX_MOVE_SECONDS = 0.0
    assert not clock.has_deadlines(None)
