"""Settings read on every message, looked up once.

Each ``settings.NAME`` goes through ``LazySettings.__getattribute__``, about a
microsecond: a move read three settings that way (py-spy, cProfile at
saturation). ``hot(name)`` reads a setting once and keeps it; a test that
changes settings (``override_settings``) drops what was kept.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

_kept: dict[str, Any] = {}


def hot(name: str) -> Any:
    """``settings.<name>``, read once."""
    try:
        return _kept[name]
    except KeyError:
        value = _kept[name] = getattr(settings, name)
        return value


def _forget(**kwargs: Any) -> None:
    _kept.clear()


setting_changed.connect(_forget)
