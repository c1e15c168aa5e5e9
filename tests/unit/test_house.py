"""House bot configuration: the MODEL:SIZE[:SERIES] format, and what hexgame-server accepts."""

from __future__ import annotations

import pytest

from clients.cli import build_parser
from clients.house import HouseSeat, parse_bot, seats_from
from hexsite.cli import house_plan, loopback_url


def test_bot_specs_read_model_size_and_optional_series_length() -> None:
    assert parse_bot("model_mcts:11:3") == HouseSeat("model_mcts", 11, 3)
    assert parse_bot(" model_first:7 ") == HouseSeat("model_first", 7, 1)
    for bad in ("model_mcts", ":7:1", "model_mcts:seven", "model_mcts:7:1:2", "model_mcts:7:x"):
        with pytest.raises(ValueError):
            parse_bot(bad)


def test_every_size_times_series_length_gets_one_bot_without_repeats() -> None:
    seats = seats_from("model_mcts", [7, 11], [1, 3], ["model_mcts:7:1", "model_first:9:5"])
    assert [(s.model, s.board_size, s.series_length) for s in seats] == [
        ("model_mcts", 7, 1), ("model_mcts", 7, 3), ("model_mcts", 11, 1), ("model_mcts", 11, 3),
        ("model_first", 9, 5)]


def test_house_command_line_collects_repeated_sizes_and_lengths() -> None:
    args = build_parser().parse_args(["house", "--model", "model_first", "--board-size", "7", "--board-size", "11",
                                      "--series-length", "3", "--iterations", "50"])
    assert (args.model_name, args.board_size, args.series_length, args.iterations) == (
        "model_first", [7, 11], [3], 50)
    assert args.username == "house"


def test_server_turns_hex_house_bots_into_house_arguments() -> None:
    argv, warnings = house_plan("model_mcts:7:1, model_mcts:11:3", max_slots=6, per_ip_cap=6)
    assert argv == ["--bot", "model_mcts:7:1", "--bot", "model_mcts:11:3"]
    assert warnings == []


def test_server_warns_when_the_house_uses_every_loopback_seat_and_refuses_beyond() -> None:
    _, warnings = house_plan("model_mcts:7:1,model_mcts:9:1", max_slots=6, per_ip_cap=2)
    assert len(warnings) == 1 and "HEX_MAX_CONNECTIONS_PER_IP" in warnings[0]
    with pytest.raises(ValueError, match="HEX_MAX_CONNECTIONS_PER_IP is 1"):
        house_plan("model_mcts:7:1,model_mcts:9:1", max_slots=6, per_ip_cap=1)
    # A cap of 0 means no cap.
    assert house_plan("model_mcts:7:1,model_mcts:9:1", max_slots=6, per_ip_cap=0)[1] == []
    with pytest.raises(ValueError, match="leave at least one free"):
        house_plan("model_mcts:7:1,model_mcts:9:1", max_slots=2, per_ip_cap=0)
    with pytest.raises(ValueError, match="unsupported board size"):
        house_plan("model_mcts:8:1", max_slots=6, per_ip_cap=6)


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "ws://127.0.0.1:8000"), ("0.0.0.0", "ws://127.0.0.1:8000"), ("::", "ws://[::1]:8000"),
     ("::1", "ws://[::1]:8000"), ("hex.example.org", "ws://hex.example.org:8000")],
)
def test_house_bots_reach_the_server_over_loopback(host: str, url: str) -> None:
    assert loopback_url(host, 8000) == url
