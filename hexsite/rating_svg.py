"""A bot's rating history as a small server-rendered SVG line chart (no JS)."""

from __future__ import annotations

from collections.abc import Sequence

WIDTH, HEIGHT, PAD = 180, 44, 3


def _points(values: Sequence[float], low: float, high: float) -> str:
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(1, len(values) - 1)
    return " ".join(
        f"{PAD + i * step:.1f},{HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD):.1f}" for i, v in enumerate(values)
    )


def rating_chart(history: Sequence[tuple[float, float]]) -> dict[str, str] | None:
    """Polyline points of mu (faint) and the conservative rating (strong) after
    each rated game, starting from the initial rating; None without games."""
    if not history:
        return None
    from stats.ratings import MODEL, conservative

    mus = [MODEL.mu] + [mu for mu, _ in history]
    lows = [conservative(MODEL.mu, MODEL.sigma)] + [low for _, low in history]
    low, high = min(lows + mus), max(lows + mus)
    return {
        "width": str(WIDTH),
        "height": str(HEIGHT),
        "mu_points": _points(mus, low, high),
        "rating_points": _points(lows, low, high),
        "label": f"rating after each of {len(history)} games: from {lows[0]:.1f} to {lows[-1]:.1f} "
                 f"(mu {mus[-1]:.1f})",
    }
