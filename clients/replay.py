"""JSONL replay log of one client session.

``--replay-log auto`` (the default of ``play`` and ``gui``) writes
``replays/<UTC time>-<model>-<pid>.jsonl`` under the working directory,
``--replay-log PATH`` writes PATH, ``--replay-log off`` writes nothing.

Format (version 1): one JSON object per line, written and flushed as it
happens, so a crashed session still leaves a readable log. Every record has

- ``seq``: 1, 2, 3 ... in write order,
- ``time``: UTC timestamp, ISO 8601,
- ``event``: one of the names below,

plus the fields of its event:

``session_start``
    ``format`` (1), ``client`` (random/play/gui), ``model``, ``server``,
    ``request`` (board_size, series_length, slot_id; never a token).
``server_message``
    ``message``: the message exactly as received, except that a
    ``reconnect_token`` is replaced by ``"<redacted>"``.
``move_applied``
    ``game``, ``move_number``, ``player``, ``q``, ``r``, ``next_turn``: a
    move the server accepted (either player's).
``decision``
    ``game``, ``move_number`` (moves played before it), ``player``,
    ``board_before`` (rows ``board[r][q]`` of 0/-1/1), ``legal_count``,
    ``choice`` (``[row, col]`` as the model returned it, after validation)
    and ``sent`` (``{"q", "r"}``).
``board_snapshot``
    ``phase`` (``"after_own_move"``), ``game``, ``move_number``, ``board``:
    the board once the server has applied our move.
``model_error``
    ``detail``, ``returned`` (repr of what the model returned or raised).
``move_rejected``
    ``reason``, ``sent`` (the last move we sent, or null).
``connection``
    ``state`` (``reconnecting``/``reconnected``), ``attempt``, ``slot_id``.
``terminal``
    ``outcome`` (``series_over``, ``error``, ``opponent_left``,
    ``connection_lost``, ``model_error``, ``interrupted``, ``quit``),
    ``exit_code``, ``message``; and for ``series_over`` the ``winner`` and
    the final score ``player_1_wins``/``player_2_wins``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

FORMAT_VERSION = 1
OFF = "off"
AUTO = "auto"
DEFAULT_DIR = "replays"
REDACTED = "<redacted>"
SECRET_FIELDS = frozenset({"reconnect_token", "token"})


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_FIELDS and v else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def auto_path(model: str, directory: str | os.PathLike[str] = DEFAULT_DIR, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    safe_model = re.sub(r"[^A-Za-z0-9_.-]+", "_", model) or "model"
    return Path(directory) / f"{stamp}-{safe_model}-{os.getpid()}.jsonl"


class ReplayLog:
    """Appends replay records to a JSONL file; a log opened with ``off`` records nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._seq = 0
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives for the whole session

    @classmethod
    def open(cls, spec: str, model: str) -> ReplayLog:
        """``spec`` is ``off``, ``auto`` or a path."""
        if spec == OFF:
            return cls(None)
        if spec == AUTO:
            return cls(auto_path(model))
        return cls(Path(spec))

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def write(self, event: str, **fields: Any) -> None:
        if self._file is None:
            return
        self._seq += 1
        record = {"seq": self._seq, "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                  "event": event, **_redact(fields)}
        self._file.write(json.dumps(record, separators=(",", ":"), default=repr) + "\n")
        self._file.flush()

    # -- the events ------------------------------------------------------------------------

    def session_start(self, client: str, model: str, server: str, request: dict[str, Any]) -> None:
        self.write("session_start", format=FORMAT_VERSION, client=client, model=model, server=server,
                   request=request)

    def server_message(self, message: dict[str, Any]) -> None:
        self.write("server_message", message=message)

    def move_applied(self, game: int, move_number: int, player: int, q: int, r: int, next_turn: int | None) -> None:
        self.write("move_applied", game=game, move_number=move_number, player=player, q=q, r=r,
                   next_turn=next_turn)

    def decision(self, game: int, move_number: int, player: int, board_before: list[list[int]], legal_count: int,
                 choice: tuple[int, int], q: int, r: int) -> None:
        self.write("decision", game=game, move_number=move_number, player=player, board_before=board_before,
                   legal_count=legal_count, choice=list(choice), sent={"q": q, "r": r})

    def board_snapshot(self, phase: str, game: int, move_number: int, board: list[list[int]]) -> None:
        self.write("board_snapshot", phase=phase, game=game, move_number=move_number, board=board)

    def model_error(self, detail: str, returned: str) -> None:
        self.write("model_error", detail=detail, returned=returned)

    def move_rejected(self, reason: str, sent: dict[str, int] | None) -> None:
        self.write("move_rejected", reason=reason, sent=sent)

    def connection(self, state: str, **details: Any) -> None:
        self.write("connection", state=state, **details)

    def terminal(self, outcome: str, exit_code: int, message: str = "", **details: Any) -> None:
        self.write("terminal", outcome=outcome, exit_code=exit_code, message=message, **details)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_replay(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All records of a replay log, in order."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
