"""Plays a uniformly random legal move (seeded by ``--seed``)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence


def agent(board: Sequence[Sequence[int]], action_set: Iterable[tuple[int, int]]) -> tuple[int, int]:
    return random.choice(list(action_set))
