"""A readable text drawing of a Hex board (for the admin and logs)."""

from __future__ import annotations

from collections.abc import Sequence

SYMBOLS = {0: "·", -1: "R", 1: "B"}


def board_to_text(rows: Sequence[Sequence[int]] | None, last_move: Sequence[int] | None = None) -> str:
    """Rows indented like the Hex rhombus: row r shifted right by r half-cells,
    red (R) connects left-right, blue (B) top-bottom; the last move in brackets."""
    if not rows:
        return "(no board)"
    size = len(rows)
    header = "   " + " ".join(chr(ord("a") + q) if q < 26 else "?" for q in range(size))
    lines = [header]
    for r, row in enumerate(rows):
        cells = []
        for q, cell in enumerate(row):
            symbol = SYMBOLS.get(cell, "?")
            if last_move is not None and list(last_move) == [q, r]:
                symbol = symbol.lower() if symbol != "·" else "*"
            cells.append(symbol)
        lines.append(" " * r + f"{r + 1:>2} " + " ".join(cells))
    return "\n".join(lines)
