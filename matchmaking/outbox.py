"""What a service decided to send, addressed by channel name.

Services never touch sockets: they return an ``Outbox`` and the consumer
delivers it after the transaction committed. Everything one transaction
produces for one connection travels as one ordered list (one channel-layer
event), because channels-redis only keeps order within a single send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matchmaking.group_commit import Batch


@dataclass(frozen=True)
class Identity:
    """Who a connection is after a service call: its seat and player."""

    slot_id: int
    seat_id: int
    player: int
    generation: int = 0


@dataclass
class Outbox:
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    closes: dict[str, int] = field(default_factory=dict)
    # The seat generation each seat-addressed channel was written for.
    generations: dict[str, int] = field(default_factory=dict)
    # The calling connection's seat after the call (None: not seated).
    identity: Identity | None = None
    # The seat membership of some slot changed (join, leave, reset, keep):
    # the reference's /ws/slots feed pushes a fresh list then.
    membership_changed: bool = False
    # Slots whose public state changed in any way (for live pages).
    changed_slots: set[int] = field(default_factory=set)
    # What spectators of a slot (/ws/watch) receive: the slot's move, game and
    # series messages in order, one list per slot, and the slot's version
    # (series id, game number, move count, game finished) once they apply.
    watch: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    watch_versions: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    # Watched slots whose seats changed: their spectators re-read the snapshot.
    # Spectator messages and these are only queued for slots someone watches
    # (``Slot.spectators``, read under the slot's lock), so delivery needs to
    # ask nobody, across processes, whether a spectator group is empty.
    refresh_watchers: set[int] = field(default_factory=set)
    # Not seated, and why: the only opponent waits on another server process
    # and counts as fresh for these many seconds more (``services.matchmake``).
    held_for: float | None = None
    # Written in a group commit (``matchmaking.group_commit``): what to await
    # before any of this may be sent. None: already committed.
    pending_commit: Batch | None = None

    def send(self, channel: str | None, msg: dict[str, Any]) -> None:
        if channel:
            self.messages.setdefault(channel, []).append(msg)

    def close(self, channel: str | None, code: int) -> None:
        if channel:
            self.messages.setdefault(channel, [])
            self.closes[channel] = code

    def to_seat(self, seat: Any, msg: dict[str, Any]) -> None:
        """Queue ``msg`` for a seat if it is connected (a ``Seat`` or None)."""
        if seat is not None and seat.connected and seat.channel_name:
            self.generations[seat.channel_name] = seat.generation
            self.send(seat.channel_name, msg)

    def close_seat(self, seat: Any, code: int) -> None:
        if seat is not None and seat.connected and seat.channel_name:
            self.generations[seat.channel_name] = seat.generation
            self.close(seat.channel_name, code)

    def to_watchers(self, slot_id: int, msg: dict[str, Any], version: tuple[int, int, int, int]) -> None:
        self.watch.setdefault(slot_id, []).append(msg)
        self.watch_versions[slot_id] = version

    def merge(self, other: Outbox) -> None:
        for channel, msgs in other.messages.items():
            self.messages.setdefault(channel, []).extend(msgs)
        self.closes.update(other.closes)
        self.generations.update(other.generations)
        self.membership_changed |= other.membership_changed
        self.changed_slots |= other.changed_slots
        for slot_id, msgs in other.watch.items():
            self.watch.setdefault(slot_id, []).extend(msgs)
        self.watch_versions.update(other.watch_versions)
        self.refresh_watchers |= other.refresh_watchers

    def channels(self) -> list[tuple[str, list[dict[str, Any]], int | None, int | None]]:
        """``(channel, messages, close code, seat generation)`` per connection."""
        return [
            (channel, msgs, self.closes.get(channel), self.generations.get(channel))
            for channel, msgs in self.messages.items()
        ]
