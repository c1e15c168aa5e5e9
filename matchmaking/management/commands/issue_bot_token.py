"""``manage.py issue_bot_token USERNAME MODEL``: a verified identity for a bot."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from matchmaking import protocol as proto
from matchmaking.services import issue_bot_token


class Command(BaseCommand):
    help = ("Issue a bot token for USERNAME + MODEL. The token is printed once and stored only as a hash; "
            "clients pass it as the bot_token query parameter (hexgame: --bot-token or HEX_BOT_TOKEN).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("model")
        parser.add_argument("--note", default="", help="a note for the operators (shown in the admin)")

    def handle(self, *args: Any, **options: Any) -> None:
        username, model = proto.clean_label(options["username"]), proto.clean_label(options["model"])
        if not username or not model:
            raise CommandError("USERNAME and MODEL must be non-empty printable labels (at most 80 characters).")
        row, token = issue_bot_token(username, model, options["note"])
        self.stderr.write(f"Issued token {row.pk} for model {row.model_name!r}, username {row.username!r}. "
                          "Store it now: it is not shown again.")
        self.stdout.write(token)
