"""Leave room on the games table's pages for the next version of each row.

A game's row is rewritten at every move (its board, move count, last move
and turn). PostgreSQL can write the new version as a heap-only tuple, with
no new entry in any of the table's four indexes, only if it fits on the same
page. With the default fillfactor of 100 an 11×11 game's row (about 1.7 kB)
fills a page with three others, the new version often does not fit, and
every such move paid for four index insertions and their WAL: 12 % of
PostgreSQL's CPU time under load (perf, bench/load.py at 200 games / 50 ms).

SQLite has no such setting, and needs none: it rewrites rows in place.
"""

from django.db import migrations

GAMES_FILLFACTOR = 50


def set_fillfactor(apps, schema_editor) -> None:  # noqa: ANN001 - Django's migration signature
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("games", "Game")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {GAMES_FILLFACTOR})")


def reset_fillfactor(apps, schema_editor) -> None:  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("games", "Game")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ("games", "0003_move_game_index_from_unique_constraint"),
    ]

    operations = [
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
