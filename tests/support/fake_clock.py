"""Controllable time for clock tests: every service reads ``matchmaking.clock.now``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone


class FakeClock:
    def __init__(self) -> None:
        self.current: datetime = timezone.now()

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("matchmaking.clock.now", fake)
    return fake
