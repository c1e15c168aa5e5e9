"""SGF and JSON game records: golden files, round trips and hostile input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games import records, rules
from games.records import GameRecord, MoveRecord, PlayerRecord, RecordError

DATA = Path(__file__).resolve().parent.parent / "data"


def golden_record() -> GameRecord:
    """Red (SGF White) opens and connects left-right along row 4; blue plays row 1."""
    moves = []
    for i in range(7):
        moves.append((rules.RED, i, 3))
        if i < 6:
            moves.append((rules.BLUE, i, 0))
    base = GameRecord(
        board_size=7, first_turn=rules.RED, red=PlayerRecord("model_random", "ann]a"),
        blue=PlayerRecord("model_first", "bob"), winner=rules.RED, end_reason=records.REASON_CONNECTED,
        status=records.STATUS_FINISHED, id=40, series_id=12, game_number=1, series_length=3, slot_id=2,
        started_at="2026-11-24T09:00:00+00:00", finished_at="2026-11-24T09:01:00+00:00",
    )
    return records.with_moves(base, moves)


def test_cell_names_follow_hexgui() -> None:
    assert records.cell_name(0, 0) == "a1"  # top-left
    assert records.cell_name(1, 0) == "b1"  # q is the column letter
    assert records.cell_name(0, 1) == "a2"  # r + 1 is the row number
    assert records.cell_name(18, 18) == "s19"
    assert records.parse_cell("c11") == (2, 10)
    for bad in ("", "1a", "a0", "A", "aa1", "a-1"):
        with pytest.raises(RecordError):
            records.parse_cell(bad)


def test_sgf_writer_matches_the_hand_checked_file() -> None:
    golden = (DATA / "golden_red_wins.sgf").read_text()
    assert records.to_sgf(golden_record()) == golden


def test_golden_sgf_reads_back_to_the_same_game() -> None:
    [parsed] = records.parse_sgf((DATA / "golden_red_wins.sgf").read_text())
    expected = golden_record()
    assert parsed.board_size == 7
    assert parsed.moves == expected.moves
    assert parsed.red == expected.red and parsed.blue == expected.blue
    assert (parsed.winner, parsed.end_reason) == (rules.RED, records.REASON_CONNECTED)
    assert (parsed.series_id, parsed.game_number, parsed.series_length) == (12, 1, 3)
    assert parsed.first_turn == rules.RED
    assert parsed.position_after(len(parsed.moves)).winner == rules.RED


def test_json_writer_matches_the_hand_checked_file() -> None:
    golden = json.loads((DATA / "golden_red_wins.json").read_text())
    assert records.to_json(golden_record()) == golden
    assert golden["moves"][0] == {"number": 1, "player": -1, "q": 0, "r": 3, "cell": "a4"}


def test_json_round_trip() -> None:
    record = golden_record()
    assert records.from_json(json.dumps(records.to_json(record))) == record


def test_series_is_one_sgf_collection() -> None:
    first = golden_record()
    second = records.with_moves(
        GameRecord(board_size=7, first_turn=rules.BLUE, winner=rules.RED, end_reason=records.REASON_RESIGNATION,
                   series_id=12, game_number=2, series_length=3),
        [(rules.BLUE, 3, 3), (rules.RED, 2, 2)],
    )
    text = records.to_sgf([first, second])
    assert text.count("(;FF[4]GM[11]") == 2
    parsed = records.parse_sgf(text)
    assert [p.game_number for p in parsed] == [1, 2]
    assert parsed[1].moves == second.moves
    assert "RE[W+R]" in text and parsed[1].end_reason == records.REASON_RESIGNATION
    assert "PL[B]" in text and parsed[1].first_turn == rules.BLUE


def random_game(seed: int, size: int) -> GameRecord:
    rng = random.Random(seed)
    board = rules.Board(size)
    first = rng.choice(rules.PLAYERS)
    player, moves = first, []
    while board.winner is None:
        q, r = rng.choice(list(board.empty_cells()))
        board.place(player, q, r)
        moves.append((player, q, r))
        player = rules.opponent(player)
        if rng.random() < 0.02:
            break
    winner = board.winner
    resigned = winner is None and rng.random() < 0.5
    base = GameRecord(board_size=size, first_turn=first, red=PlayerRecord("r[ed]\\x", ""),
                      blue=PlayerRecord("blue", "üser"),
                      winner=winner if not resigned else rules.opponent(player),
                      end_reason=(records.REASON_CONNECTED if winner is not None
                                  else records.REASON_RESIGNATION if resigned else ""),
                      status=records.STATUS_FINISHED if winner is not None or resigned else records.STATUS_RUNNING)
    return records.with_moves(base, moves)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.sampled_from(rules.BOARD_SIZES))
def test_sgf_and_json_round_trips_of_random_games(seed: int, size: int) -> None:
    record = random_game(seed, size)
    [back] = records.parse_sgf(records.to_sgf(record))
    assert back.moves == record.moves
    assert (back.board_size, back.first_turn, back.winner, back.end_reason) == (
        record.board_size, record.first_turn, record.winner, record.end_reason)
    assert back.red == record.red and back.blue == record.blue
    assert records.from_json(records.to_json(record)) == record


def test_parser_reads_hexgui_style_files() -> None:
    text = "(;AP[HexGui:0.9]FF[4]GM[11]SZ[9]\n;B[e5]\n;W[d6](;B[c7])(;B[a1]))"
    [record] = records.parse_sgf(text)
    assert [(m.player, m.cell) for m in record.moves] == [(rules.BLUE, "e5"), (rules.RED, "d6"), (rules.BLUE, "c7")]
    assert record.winner is None and record.first_turn == rules.BLUE


@pytest.mark.parametrize("text", [
    "", "(", "(;GM[1]SZ[9])", "(;GM[11]SZ[x])", "(;GM[11]SZ[7];B[h1])", "(;GM[11]SZ[7];B[a1];B[b1])",
    "(;GM[11]SZ[7];B[a1];W[a1])", "(;GM[11]SZ[7];B[swap-pieces])", "(;GM[11]SZ[7]C[unterminated)", "x",
    "(;GM[11]SZ[7])junk", "(;GM[11]SZ[7]FF)",
])
def test_parser_refuses_broken_sgf(text: str) -> None:
    with pytest.raises(RecordError):
        records.parse_sgf(text)


@pytest.mark.parametrize("data", [
    "[]", "{", {"moves": []}, {"board_size": "7"}, {"board_size": 7, "moves": {}},
    {"board_size": 7, "moves": [1]}, {"board_size": 7, "moves": [{"player": 2, "q": 0, "r": 0}]},
    {"board_size": 7, "moves": [{"player": 1, "q": 9, "r": 0}]},
    {"board_size": 7, "moves": [{"player": 1, "q": True, "r": 0}]},
    {"board_size": 7, "winner": rules.RED, "end_reason": "connected_sides", "moves": []},
    {"board_size": 7, "moves": [{"player": 1, "q": 0, "r": 0, "kind": "swap-pieces"}]},
])
def test_json_reader_refuses_broken_records(data: object) -> None:
    with pytest.raises(RecordError):
        records.from_json(data if isinstance(data, str) else json.dumps(data))


def test_moves_after_a_win_are_refused() -> None:
    record = golden_record()
    extra = MoveRecord(len(record.moves) + 1, rules.BLUE, 6, 6)
    with pytest.raises(RecordError, match="after the game was won"):
        GameRecord(board_size=7, moves=record.moves + (extra,)).validate()


def test_swap_and_timeout_round_trip_through_sgf_and_json():
    """A swap game (issue 8) in the records of issue 6: the second move is
    ``swap-pieces``, the first stone comes back mirrored in the swapper's
    colour, and a game lost on time is ``+T``."""
    from games.records import GameRecord, MoveRecord, PlayerRecord, from_json, parse_sgf, to_json, to_sgf

    record = GameRecord(
        board_size=7, first_turn=rules.RED,
        moves=(MoveRecord(1, rules.RED, 1, 4), MoveRecord(2, rules.BLUE, 4, 1, kind=rules.MOVE_KIND_SWAP),
               MoveRecord(3, rules.RED, 3, 3)),
        red=PlayerRecord("model_first"), blue=PlayerRecord("random_client"),
        winner=rules.BLUE, end_reason="timeout",
    ).validate()

    sgf = to_sgf(record)
    assert ";W[b5];B[swap-pieces];W[d4]" in sgf
    assert "RE[B+T]" in sgf
    parsed = parse_sgf(sgf)[0]
    assert [(m.kind, m.player) for m in parsed.moves] == [("place", rules.RED), ("swap", rules.BLUE),
                                                          ("place", rules.RED)]
    assert parsed.end_reason == "timeout" and parsed.winner == rules.BLUE
    board = parsed.position_after(2)
    assert board.at(4, 1) == rules.BLUE and board.at(1, 4) == rules.EMPTY
    assert from_json(to_json(record)).moves == record.moves


def test_a_swap_anywhere_but_the_second_move_is_refused():
    from games.records import GameRecord, MoveRecord, RecordError

    record = GameRecord(board_size=7, moves=(
        MoveRecord(1, rules.RED, 1, 4), MoveRecord(2, rules.BLUE, 0, 0), MoveRecord(3, rules.RED, 4, 1,
                                                                                    kind=rules.MOVE_KIND_SWAP)))
    with pytest.raises(RecordError):
        record.validate()
