"""``manage.py rebuild_ratings``: recompute every rating from the stored games."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from stats.ratings import rebuild


class Command(BaseCommand):
    help = "Recompute all ratings and their history from the stored games of rated series."

    def handle(self, *args: Any, **options: Any) -> None:
        count = rebuild()
        self.stdout.write(f"Rated {count} games.")
