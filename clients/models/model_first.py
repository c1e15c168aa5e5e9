"""Plays the first legal cell in reading order: deterministic, for tests and demos."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def agent(board: Sequence[Sequence[int]], action_set: Iterable[tuple[int, int]]) -> tuple[int, int]:
    return min(action_set)
