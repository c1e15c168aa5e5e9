"""Parsing and building of the arena's WebSocket protocol messages.

Everything here is pure: it turns raw frames and query strings into typed
values or protocol errors, and builds the exact payloads of the reference
protocol (``{"type": ..., "payload": {...}}``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from games import rules

# Error messages, verbatim from the reference where it has one.
ERR_TOO_LARGE = "Message too large"
ERR_INVALID_JSON = "Invalid JSON message"
ERR_MISSING_TYPE = "Missing message type"
ERR_UNKNOWN_TYPE = "Unknown message type"
ERR_INVALID_PAYLOAD = "Invalid payload"
ERR_BINARY = "Binary frames are not supported; send JSON text frames"
ERR_RATE_LIMITED = "Too many messages; slow down"
ERR_BAD_BOARD_SIZE = "Unsupported board size"
ERR_BAD_SERIES_LENGTH = "Unsupported series length"
ERR_BAD_FIRST_PLAYER = "Invalid first_player value"
ERR_TOO_MANY_FROM_IP = "Too many connections from your IP"
ERR_NO_SLOT = "No available slot"
ERR_SLOT_MISSING = "Slot does not exist"
ERR_SLOT_NOT_WAITING = "Slot is not waiting for an opponent"
ERR_SLOT_OWNER_DISCONNECTED = "Slot owner is disconnected"
ERR_SLOT_FULL = "Slot is already full"
ERR_NOT_RECONNECTABLE = "Slot is not available for reconnect"
ERR_BAD_TOKEN = "Invalid reconnect token"
ERR_KEEP_NOT_FINISHED = "Slot is not in a finished match"
ERR_KEEP_NOT_READY = "Slot is not ready for another match"
ERR_NOT_CONNECTED = "Player is not connected"
ERR_STALE = "Player connection is stale"
ERR_KEEP_SERIES_RUNNING = "Series is not over and opponent is still connected"
ERR_SERVER_BUSY = "Server is busy; try again"
# Extension (/ws/watch), not in the reference.
ERR_WATCH_READ_ONLY = "Spectators are read-only; only ping is accepted"
# Extensions (opt-in query parameters; never seen by a client that does not use them).
ERR_BAD_SWAP = "Invalid swap value: use 0 or 1"
ERR_TWO_TIME_CONTROLS = "Choose either time_per_move or time_base (with time_increment), not both"
ERR_INCREMENT_WITHOUT_BASE = "time_increment needs time_base"
ERR_BAD_BOT_TOKEN = "Invalid bot token"
ERR_REVOKED_BOT_TOKEN = "Bot token has been revoked"
ERR_BOT_TOKEN_MISMATCH = "This bot token belongs to a different model_name/username"
ERR_IDENTITY_RESERVED = ("This model_name and username belong to a verified bot; "
                         "connect with its bot_token or choose another name")
ERR_SLOT_OPTIONS_DIFFER = ("This slot plays with other options (swap, time control); "
                           "join it with the same query parameters")
REASON_TIMEOUT = "Time limit exceeded"

CLIENT_TYPES = frozenset({"hello", "move", "chat", "resign", "ping", "keep_slot", "swap"})
LABEL_MAX = 80
CHAT_MAX = 500
QUERY_MAX_BYTES = 4096
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
# Deeply nested JSON is a cheap way to make a parser recurse; no protocol
# message nests deeper than a payload inside an envelope.
_MAX_NESTING = 32


class ProtocolError(Exception):
    """A client error to be answered with an ``error`` message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def message(type_: str, **payload: Any) -> dict[str, Any]:
    return {"type": type_, "payload": payload}


def error(text: str) -> dict[str, Any]:
    return message("error", message=text)


# Starlette's send_json encoding, which the reference server uses (one
# encoder for all: json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(msg: dict[str, Any]) -> str:
    return _ENCODER.encode(msg)


def _nesting_depth_ok(text: str) -> bool:
    if text.count("[") + text.count("{") <= _MAX_NESTING:
        return True  # every message a client really sends: no need to walk it
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > _MAX_NESTING:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_client_message(text: str, max_chars: int) -> tuple[str, dict[str, Any]]:
    """Decode one text frame into ``(type, payload)`` or raise ProtocolError,
    checking in the reference's order: size, JSON object, type, payload."""
    if len(text) > max_chars:
        raise ProtocolError(ERR_TOO_LARGE)
    if not _nesting_depth_ok(text):
        raise ProtocolError(ERR_INVALID_JSON)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(ERR_INVALID_JSON) from None
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_JSON)
    type_ = data.get("type")
    if not isinstance(type_, str):
        raise ProtocolError(ERR_MISSING_TYPE)
    if type_ not in CLIENT_TYPES:
        raise ProtocolError(ERR_UNKNOWN_TYPE)
    # Omitted means {}; present but not an object (null included) is an error,
    # as in the reference.
    payload = data.get("payload", {})
    if not isinstance(payload, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    return type_, payload


def parse_move(payload: dict[str, Any]) -> tuple[Any, Any]:
    """The raw ``(q, r)`` of a move payload; type checks are the rules' job."""
    return payload.get("q"), payload.get("r")


def printable_only(value: str) -> str:
    return "".join(ch for ch in value if ch.isprintable() and unicodedata.category(ch) != "Co")


def clean_chat(value: str) -> str:
    """Chat as the reference forwards it: printable characters, cut to 500,
    spaces kept (an empty result is still forwarded)."""
    return printable_only(value)[:CHAT_MAX]


def clean_label(value: object) -> str:
    """Labels as the reference keeps them: printable characters, stripped,
    then cut to 80 (a cut may leave a trailing space); empty means absent."""
    if not isinstance(value, str):
        return ""
    return printable_only(value).strip()[:LABEL_MAX]


# -- query strings ------------------------------------------------------------------


# Integers as the reference's FastAPI/pydantic parsing accepts them: "7.0" is 7
# and "7_0" is 70, like Python's int().
_INTEGER = re.compile(r"\s*([+-]?[0-9](?:_?[0-9])*)(?:\.0*)?\s*", re.ASCII)


@dataclass(frozen=True)
class Query:
    values: dict[str, str]

    @classmethod
    def parse(cls, raw: bytes) -> Query:
        if len(raw) > QUERY_MAX_BYTES:
            raise ProtocolError("Query string too long")
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = parse_qs(text, keep_blank_values=True, max_num_fields=32)
        except ValueError:
            raise ProtocolError("Too many query parameters") from None
        # A repeated parameter counts with its last value, as in the reference.
        return cls({key: vals[-1] for key, vals in parsed.items()})

    def int(self, name: str, default: int | None = None) -> int:
        """An integer parameter; absent means ``default`` (or an error when
        required), present but empty or not an integer is an error."""
        raw = self.values.get(name)
        if raw is None:
            if default is None:
                raise ProtocolError(f"Missing required parameter: {name}")
            return default
        match = _INTEGER.fullmatch(raw)
        if match is None:
            raise ProtocolError(f"Invalid {name}: must be an integer")
        return int(match.group(1))

    def optional_int(self, name: str) -> int | None:
        if name not in self.values:
            return None
        return self.int(name)

    def str(self, name: str) -> str:
        raw = self.values.get(name)
        if raw is None or raw == "":
            raise ProtocolError(f"Missing required parameter: {name}")
        return raw

    def label(self, name: str) -> str:
        return clean_label(self.values.get(name, ""))


@dataclass(frozen=True)
class MatchRequest:
    board_size: int
    series_length: int
    first_player: int
    model_name: str
    username: str
    # Extensions; the defaults are the reference's behaviour.
    swap: bool = False
    time_control: str = ""
    bot_token: str | None = None


def _bounded_seconds(query: Query, name: str, low: int, high: int) -> int | None:
    value = query.optional_int(name)
    if value is not None and not low <= value <= high:
        raise ProtocolError(f"Invalid {name}: must be between {low} and {high} seconds")
    return value


def parse_options(query: Query) -> tuple[bool, str]:
    """The opt-in ``swap`` and time-control parameters: ``(swap, time control code)``."""
    from matchmaking.clock import MAX_CONTROL_SECONDS, MAX_INCREMENT_SECONDS, TimeControl

    try:
        swap = query.optional_int("swap")
    except ProtocolError:
        raise ProtocolError(ERR_BAD_SWAP) from None
    if swap not in (None, 0, 1):
        raise ProtocolError(ERR_BAD_SWAP)
    per_move = _bounded_seconds(query, "time_per_move", 1, MAX_CONTROL_SECONDS)
    base = _bounded_seconds(query, "time_base", 1, MAX_CONTROL_SECONDS)
    increment = _bounded_seconds(query, "time_increment", 0, MAX_INCREMENT_SECONDS)
    if per_move is not None and (base is not None or increment is not None):
        raise ProtocolError(ERR_TWO_TIME_CONTROLS)
    if increment is not None and base is None:
        raise ProtocolError(ERR_INCREMENT_WITHOUT_BASE)
    control = ""
    if per_move is not None:
        control = TimeControl(per_move_ms=per_move * 1000).code
    elif base is not None:
        control = TimeControl(base_ms=base * 1000, increment_ms=(increment or 0) * 1000).code
    return bool(swap), control


def bot_token(query: Query) -> str | None:
    """The opt-in ``bot_token`` parameter (None when absent or empty)."""
    raw = query.values.get("bot_token")
    return raw if raw else None


def parse_matchmake(query: Query) -> MatchRequest:
    board_size = query.int("board_size")
    series_length = query.int("series_length", default=1)
    first_player = query.optional_int("first_player")
    if not rules.is_valid_board_size(board_size):
        raise ProtocolError(ERR_BAD_BOARD_SIZE)
    if not rules.is_valid_series_length(series_length):
        raise ProtocolError(ERR_BAD_SERIES_LENGTH)
    if first_player is not None and first_player not in rules.PLAYERS:
        raise ProtocolError(ERR_BAD_FIRST_PLAYER)
    swap, time_control = parse_options(query)
    return MatchRequest(
        board_size=board_size,
        series_length=series_length,
        first_player=first_player if first_player is not None else rules.RED,
        model_name=query.label("model_name"),
        username=query.label("username"),
        swap=swap,
        time_control=time_control,
        bot_token=bot_token(query),
    )


# -- server messages ------------------------------------------------------------------


def labels_by_player(red: str, blue: str | None) -> dict[str, str]:
    """``{"-1": ..., "1": ...}`` with unlabelled players omitted."""
    out: dict[str, str] = {}
    if red:
        out[str(rules.RED)] = red
    if blue:
        out[str(rules.BLUE)] = blue
    return out


def joined(slot_id: int, player: int, board_size: int, series_length: int, token: str) -> dict[str, Any]:
    return message(
        "joined",
        slot_id=slot_id,
        player=player,
        color=rules.color_of(player),
        board_size=board_size,
        series_length=series_length,
        reconnect_token=token,
        protocol_version=rules.PROTOCOL_VERSION,
    )


def slot_kept(slot_id: int, board_size: int, series_length: int, token: str) -> dict[str, Any]:
    msg = joined(slot_id, rules.RED, board_size, series_length, token)
    msg["type"] = "slot_kept"
    return msg


def waiting_for_opponent(slot_id: int, board_size: int) -> dict[str, Any]:
    return message("waiting_for_opponent", slot_id=slot_id, board_size=board_size)


def move(player: int, q: int, r: int, next_turn: int | None) -> dict[str, Any]:
    return message("move", player=player, q=q, r=r, next_turn=next_turn)


def swap(player: int, q: int, r: int, from_q: int, from_r: int, next_turn: int) -> dict[str, Any]:
    """A swap-pieces answer: the stone at (from_q, from_r) became ``player``'s at (q, r)."""
    return message("swap", player=player, q=q, r=r, from_q=from_q, from_r=from_r, next_turn=next_turn)


def move_rejected(reason: str) -> dict[str, Any]:
    return message("move_rejected", reason=reason)


def game_over(winner: int, reason: str) -> dict[str, Any]:
    return message("game_over", winner=winner, reason=reason)


def opponent_disconnected(reason: str, timeout_seconds: float) -> dict[str, Any]:
    # The reference sends an int; keep whole numbers integral for old clients.
    seconds: float = int(timeout_seconds) if float(timeout_seconds).is_integer() else timeout_seconds
    return message(
        "opponent_disconnected",
        message="Your opponent disconnected",
        reason=reason,
        reconnect_timeout_seconds=seconds,
    )


def opponent_reconnected(player: int) -> dict[str, Any]:
    return message("opponent_reconnected", player=player)


def opponent_left_slot() -> dict[str, Any]:
    return message("opponent_left_slot", message="Your opponent kept the slot for another match")


def chat(player: int, text: str) -> dict[str, Any]:
    return message("chat", player=player, message=text)


def pong() -> dict[str, Any]:
    return message("pong")


def hello() -> dict[str, Any]:
    return message("hello", protocol_version=rules.PROTOCOL_VERSION)
