"""The embedded default keeps each slot's move context between moves
(``matchmaking.move_contexts``): a move reads its slot afresh only when
something else may have changed it."""

from __future__ import annotations

import pytest

from games import rules
from games.models import Game, Move
from tests.integration.helpers import RED, batch_statements, db, pair, run

pytestmark = pytest.mark.django_db(transaction=True)

# The start of the statement that reads a move's context (``move_store``).
CONTEXT_READ = "SELECT s.state, s.game_id"


@pytest.fixture
def context_reads(monkeypatch):
    """Every context read on the batches' connection from the first batch on."""
    yield from batch_statements(monkeypatch, CONTEXT_READ)


def test_a_game_s_moves_read_its_slot_once(context_reads):
    async def scenario() -> None:
        red, blue, start = await pair(7)
        mover, waiter = (red, blue) if start["first_turn"] == RED else (blue, red)
        context_reads.clear()
        for k in range(6):
            player, other = (mover, waiter) if k % 2 == 0 else (waiter, mover)
            await player.move(k, k % 2)
            await player.expect("move")
            await other.expect("move")
        assert len(context_reads) == 1, context_reads
        # Every move was judged and stored as before.
        stored = await db(lambda: [(m.number, m.q, m.r) for m in Move.objects.order_by("number")])
        assert stored == [(k + 1, k, k % 2) for k in range(6)]
        await red.close()
        await blue.close()

    run(scenario())


def test_a_change_committed_by_another_connection_is_seen_by_the_next_move(context_reads):
    """An operator's edit (here the turn handed back to the player who just
    moved, from another database connection, as the admin would) is what the
    next move is judged on, not the context the last move left behind."""
    async def scenario() -> None:
        red, blue, start = await pair(7)
        mover, waiter = (red, blue) if start["first_turn"] == RED else (blue, red)
        mover_colour = start["first_turn"]
        await mover.move(0, 0)
        await mover.expect("move")
        await waiter.expect("move")
        await db(lambda: Game.objects.update(current_turn=mover_colour))
        context_reads.clear()

        await waiter.move(1, 1)
        await waiter.expect_rejected(rules.REASON_NOT_YOUR_TURN)
        await mover.move(2, 2)
        await mover.expect("move")
        assert (await waiter.expect("move"))["q"] == 2
        assert len(context_reads) == 1, "read afresh once, then kept again"
        await red.close()
        await blue.close()

    run(scenario())
