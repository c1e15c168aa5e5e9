"""Parsing and building of protocol messages (matchmaking.protocol)."""

from __future__ import annotations

import json

import pytest

from matchmaking import protocol as proto
from matchmaking.protocol import ProtocolError, Query

LIMIT = 4096


def parse(text: str) -> tuple[str, dict]:
    return proto.parse_client_message(text, LIMIT)


def parse_error(text: str) -> str:
    with pytest.raises(ProtocolError) as info:
        parse(text)
    return info.value.message


# -- client frames ------------------------------------------------------------------------------------


def test_valid_message_parses_to_type_and_payload():
    assert parse('{"type":"move","payload":{"q":1,"r":2}}') == ("move", {"q": 1, "r": 2})


@pytest.mark.parametrize("type_", ["hello", "move", "chat", "resign", "ping", "keep_slot"])
def test_every_client_type_is_known(type_):
    assert parse(json.dumps({"type": type_, "payload": {}}))[0] == type_


def test_size_limit_counts_characters():
    body = '{"type":"chat","payload":{"message":"' + "x" * (LIMIT - 40) + '"}}'
    assert len(body) <= LIMIT
    assert parse(body)[0] == "chat"
    too_big = '{"type":"chat","payload":{"message":"' + "x" * LIMIT + '"}}'
    assert parse_error(too_big) == "Message too large"


def test_size_limit_wins_over_invalid_json():
    assert parse_error("x" * (LIMIT + 1)) == "Message too large"


def test_size_limit_is_in_characters_not_bytes():
    # 4000 three-byte characters: 12000 bytes but under 4096 characters.
    body = json.dumps({"type": "chat", "payload": {"message": "€" * 4000}}, ensure_ascii=False)
    assert len(body) <= LIMIT < len(body.encode())
    assert parse(body)[0] == "chat"


@pytest.mark.parametrize("text", ["", "not json", "{", '{"type": "move",}', "{'type': 'ping'}", "NaN]"])
def test_invalid_json(text):
    assert parse_error(text) == "Invalid JSON message"


@pytest.mark.parametrize("text", ["[]", '["ping"]', "1", '"ping"', "null", "true"])
def test_non_object_json_is_invalid_json(text):
    assert parse_error(text) == "Invalid JSON message"


@pytest.mark.parametrize("text", ["{}", '{"payload":{}}', '{"type":null}', '{"type":1}', '{"type":["ping"]}',
                                  '{"type":{"a":1}}'])
def test_missing_or_non_string_type(text):
    assert parse_error(text) == "Missing message type"


@pytest.mark.parametrize("type_", ["", "PING", "moves", "join", "game_start", "error"])
def test_unknown_type(type_):
    assert parse_error(json.dumps({"type": type_})) == "Unknown message type"


@pytest.mark.parametrize("payload", ["[]", "1", '"x"', "true", "[1,2]", "null"])
def test_non_object_payload_is_invalid_payload(payload):
    assert parse_error('{"type":"move","payload":' + payload + "}") == "Invalid payload"


def test_omitted_payload_defaults_to_empty_object():
    assert parse('{"type":"ping"}') == ("ping", {})
    assert parse('{"type":"move","payload":{}}') == ("move", {})


def test_null_payload_is_present_and_not_an_object():
    """The reference: payload present but not an object -> Invalid payload."""
    assert parse_error('{"type":"resign","payload":null}') == "Invalid payload"


def test_type_check_precedes_payload_check():
    assert parse_error('{"type":"nope","payload":[]}') == "Unknown message type"


def test_deep_nesting_is_rejected_as_invalid_json():
    deep = '{"type":"chat","payload":{"message":' + "[" * 1000 + "]" * 1000 + "}}"
    assert len(deep) <= LIMIT
    assert parse_error(deep) == "Invalid JSON message"


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"type": "chat", "payload": {"message": "[" * 500 + "{" * 500}})
    assert parse(text)[1]["message"].startswith("[[[")


def test_moderate_nesting_is_still_accepted():
    nested: object = 1
    for _ in range(20):
        nested = [nested]
    assert parse(json.dumps({"type": "move", "payload": {"q": nested, "r": 0}}))[0] == "move"


def test_parse_move_returns_raw_values():
    assert proto.parse_move({"q": 3, "r": "4"}) == (3, "4")
    assert proto.parse_move({}) == (None, None)


# -- query strings ---------------------------------------------------------------------------------------


def test_query_int_missing_and_non_integer_messages():
    query = Query.parse(b"board_size=&slot_id=abc&x=7&y=7.0&first_player=")
    with pytest.raises(ProtocolError, match="^Missing required parameter: series_length$"):
        query.int("series_length")
    with pytest.raises(ProtocolError, match="^Invalid slot_id: must be an integer$"):
        query.int("slot_id")
    assert query.int("x") == 7
    assert query.int("y") == 7  # the reference's parser takes "7.0" as 7
    assert Query.parse(b"board_size=7_0").int("board_size") == 70  # and "7_0" as 70
    assert query.int("series_length", default=1) == 1


def test_present_but_empty_integer_is_an_error_not_the_default():
    """The reference refuses an empty value (HTTP 403); we answer with an error
    like every other bad parameter instead of silently using the default."""
    query = Query.parse(b"board_size=&series_length=&first_player=")
    for name in ("board_size", "series_length"):
        with pytest.raises(ProtocolError, match=f"^Invalid {name}: must be an integer$"):
            query.int(name, default=1)
    with pytest.raises(ProtocolError, match="^Invalid first_player: must be an integer$"):
        query.optional_int("first_player")
    assert Query.parse(b"").optional_int("first_player") is None


@pytest.mark.parametrize("raw", ["1.5", "7e0", "seven", "0x7", "--7"])
def test_query_int_rejects_non_integers(raw):
    with pytest.raises(ProtocolError, match="must be an integer"):
        Query.parse(f"board_size={raw}".encode()).int("board_size")


def test_query_str_required():
    query = Query.parse(b"slot_id=1&token=")
    with pytest.raises(ProtocolError, match="^Missing required parameter: token$"):
        query.str("token")
    assert Query.parse(b"token=abc-_DEF").str("token") == "abc-_DEF"


def test_query_last_value_wins_and_percent_decoding():
    """A repeated parameter counts with its last value, as in the reference."""
    query = Query.parse(b"board_size=9&board_size=11&username=a%20b")
    assert query.int("board_size") == 11
    assert query.label("username") == "a b"


def test_query_too_long_or_too_many_fields_is_an_error():
    with pytest.raises(ProtocolError):
        Query.parse(b"a=" + b"x" * 5000)
    with pytest.raises(ProtocolError):
        Query.parse("&".join(f"k{i}=1" for i in range(100)).encode())


def test_query_with_invalid_utf8_does_not_crash():
    assert Query.parse(b"username=%ff%fe\xff").label("username") != ""


def matchmake(qs: str) -> proto.MatchRequest:
    return proto.parse_matchmake(Query.parse(qs.encode()))


def matchmake_error(qs: str) -> str:
    with pytest.raises(ProtocolError) as info:
        matchmake(qs)
    return info.value.message


def test_matchmake_defaults():
    req = matchmake("board_size=7")
    assert req == proto.MatchRequest(board_size=7, series_length=1, first_player=-1, model_name="", username="")


def test_matchmake_all_parameters():
    req = matchmake("board_size=19&series_length=15&first_player=1&model_name=dqn&username=ann")
    assert req == proto.MatchRequest(board_size=19, series_length=15, first_player=1, model_name="dqn",
                                     username="ann")


@pytest.mark.parametrize("size", [0, 1, 5, 8, 10, 12, 17, 21, -7])
def test_matchmake_unsupported_board_size(size):
    assert matchmake_error(f"board_size={size}") == "Unsupported board size"


@pytest.mark.parametrize("length", [0, 2, 4, 16, 17, -1])
def test_matchmake_unsupported_series_length(length):
    assert matchmake_error(f"board_size=7&series_length={length}") == "Unsupported series length"


@pytest.mark.parametrize("first", ["0", "2", "-2"])
def test_matchmake_invalid_first_player(first):
    assert matchmake_error(f"board_size=7&first_player={first}") == "Invalid first_player value"


def test_matchmake_checks_in_reference_order():
    assert matchmake_error("board_size=8&series_length=2&first_player=0") == "Unsupported board size"
    assert matchmake_error("board_size=7&series_length=2&first_player=0") == "Unsupported series length"


def test_matchmake_missing_or_non_integer():
    assert matchmake_error("") == "Missing required parameter: board_size"
    assert matchmake_error("board_size=big") == "Invalid board_size: must be an integer"
    assert matchmake_error("board_size=7&series_length=x") == "Invalid series_length: must be an integer"
    assert matchmake_error("board_size=7&first_player=red") == "Invalid first_player: must be an integer"


# -- labels and chat ---------------------------------------------------------------------------------------


def test_label_cleaning():
    assert proto.clean_label("  dqn\x00\x07-v2\n ") == "dqn-v2"
    assert proto.clean_label("a\u200bb") == "ab"  # zero-width space is a format character
    assert proto.clean_label("x" * 200) == "x" * 80
    assert proto.clean_label("   ") == ""
    assert proto.clean_label(None) == ""
    assert proto.clean_label(42) == ""
    assert proto.clean_label("Zoë 😀") == "Zoë 😀"


def test_label_is_cut_after_removing_non_printables():
    assert proto.clean_label("\x01" * 100 + "y" * 100) == "y" * 80


def test_label_is_stripped_before_the_cut_only():
    """As the reference: a cut at 80 may leave a trailing space."""
    assert proto.clean_label("u" * 79 + " tail") == "u" * 79 + " "


def test_query_labels_are_cleaned():
    req = matchmake("board_size=7&model_name=%00%1b%5B31mred&username=" + "u" * 120)
    assert req.model_name == "[31mred"
    assert req.username == "u" * 80


def test_chat_cleaning():
    assert proto.clean_chat("hi\x1b[2J there\x00") == "hi[2J there"
    assert proto.clean_chat("x" * 1000) == "x" * 500
    # Spaces are kept and the cut is at 500 of the cleaned text, as the reference forwards it.
    assert proto.clean_chat("  spaced  ") == "  spaced  "
    assert proto.clean_chat("   " + "y" * 498 + "  end") == "   " + "y" * 497
    assert proto.clean_chat("\x01\x02") == ""
    assert proto.CHAT_MAX == 500 and proto.LABEL_MAX == 80


# -- server messages ---------------------------------------------------------------------------------------------


def test_encode_is_compact_json_keeping_unicode():
    assert proto.encode(proto.pong()) == '{"type":"pong","payload":{}}'
    assert proto.encode(proto.chat(1, "é")) == '{"type":"chat","payload":{"player":1,"message":"é"}}'


def test_error_message():
    assert proto.error("Invalid JSON message") == {"type": "error", "payload": {"message": "Invalid JSON message"}}


def test_joined_payload():
    msg = proto.joined(3, -1, 11, 5, "tok")
    assert msg == {"type": "joined", "payload": {
        "slot_id": 3, "player": -1, "color": "red", "board_size": 11, "series_length": 5,
        "reconnect_token": "tok", "protocol_version": 1,
    }}
    assert proto.joined(3, 1, 11, 5, "tok")["payload"]["color"] == "blue"


def test_slot_kept_payload_is_red_with_new_token():
    assert proto.slot_kept(2, 9, 3, "new") == {"type": "slot_kept", "payload": {
        "slot_id": 2, "player": -1, "color": "red", "board_size": 9, "series_length": 3,
        "reconnect_token": "new", "protocol_version": 1,
    }}


def test_simple_server_messages():
    assert proto.encode(proto.waiting_for_opponent(1, 7)) == \
        '{"type":"waiting_for_opponent","payload":{"slot_id":1,"board_size":7}}'
    assert proto.encode(proto.move(-1, 2, 3, 1)) == '{"type":"move","payload":{"player":-1,"q":2,"r":3,"next_turn":1}}'
    assert proto.encode(proto.move(1, 0, 6, None)) == \
        '{"type":"move","payload":{"player":1,"q":0,"r":6,"next_turn":null}}'
    assert proto.encode(proto.move_rejected("Not your turn")) == \
        '{"type":"move_rejected","payload":{"reason":"Not your turn"}}'
    assert proto.encode(proto.game_over(1, "resignation")) == \
        '{"type":"game_over","payload":{"winner":1,"reason":"resignation"}}'
    assert proto.encode(proto.opponent_reconnected(-1)) == '{"type":"opponent_reconnected","payload":{"player":-1}}'
    assert proto.encode(proto.hello()) == '{"type":"hello","payload":{"protocol_version":1}}'
    assert proto.opponent_left_slot() == {"type": "opponent_left_slot", "payload": {
        "message": "Your opponent kept the slot for another match"}}


def test_opponent_disconnected_keeps_whole_seconds_integral():
    assert proto.encode(proto.opponent_disconnected("waiting_for_reconnect", 30.0)) == (
        '{"type":"opponent_disconnected","payload":{"message":"Your opponent disconnected",'
        '"reason":"waiting_for_reconnect","reconnect_timeout_seconds":30}}'
    )
    assert proto.opponent_disconnected("reconnect_timeout", 0.5)["payload"]["reconnect_timeout_seconds"] == 0.5


def test_labels_by_player_omits_unlabelled():
    assert proto.labels_by_player("a", "b") == {"-1": "a", "1": "b"}
    assert proto.labels_by_player("", "b") == {"1": "b"}
    assert proto.labels_by_player("a", None) == {"-1": "a"}
    assert proto.labels_by_player("", "") == {}
