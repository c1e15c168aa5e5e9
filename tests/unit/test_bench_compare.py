"""``bench/compare.py --rounds``: every round's row, and the medians per server."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import compare  # noqa: E402


def figures(rate: float, p99: float) -> dict:
    return {"accepted_per_s": rate, "served_pct": None, "rtt_ms": {"p50": 1.0, "p95": 2.0, "p99": p99, "max": 9.0},
            "matchmaking_ms": {"p50": 5.0, "p99": 8.0}, "errors": {}, "server_cpu_pct": 99.0, "peak_rss_mb": 120.0}


def test_medians_take_each_server_over_its_rounds_only():
    variants = [("ours", []), ("reference", ["--target", "reference"])]
    # Rounds alternate the servers: ours, reference, ours, reference, ours, reference.
    rows = [("ours (round 1)", figures(5000, 20.0)), ("reference (round 1)", figures(9000, 9.0)),
            ("ours (round 2)", figures(7000, 12.0)), ("reference (round 2)", None),
            ("ours (round 3)", figures(6000, 15.0)), ("reference (round 3)", figures(13000, 7.0))]
    text = compare.medians(variants, rows, rounds=3)
    ours, reference = text.splitlines()
    assert ours == ("* ours: median of 3 rounds 6000 moves/s (range 5000-7000), "
                    "RTT p99 15.0 ms (range 12.0-20.0)")
    assert reference.startswith("* reference: median of 2 rounds 11000 moves/s (range 9000-13000)")
    assert "(round 2)" in compare.table("t", rows) and "(did not run)" in compare.table("t", rows)


def test_the_table_shows_the_opponents_delivery_where_it_was_measured():
    measured = {**figures(4000, 60.0), "to_opponent_ms": {"p50": 24.19, "p95": 70.0, "p99": 105.5, "max": 200.0}}
    text = compare.table("t", [("ours ×2", measured), ("older figures", figures(4000, 60.0))])
    header, _rule, ours, older = text.splitlines()[2:]
    assert "to opponent p50 / p99 (ms)" in header
    assert "| 24.2 / 105.5 |" in ours
    assert older.count("|") == header.count("|") and "| — |" in older


def test_the_table_gives_the_servers_cpu_per_accepted_move():
    busy = {**figures(4000, 60.0), "server_cpu_pct": 80.0}
    stalled = {**figures(0, 60.0), "server_cpu_pct": 3.0}
    text = compare.table("t", [("ours", busy), ("stalled", stalled)])
    header, _rule, ours, none_accepted = text.splitlines()[2:]
    assert "server CPU (per move)" in header
    assert "| 80 % (200 µs) |" in ours  # 0.8 of a core over 4,000 moves a second
    assert "| 3 % |" in none_accepted


def test_the_services_line_gives_each_servers_services_cpu_per_accepted_move():
    ours = {**figures(4000, 30.0), "services_cpu_pct": {"postgresql": 44.0, "redis": 2.8}}
    reference = {**figures(20, 5000.0), "services_cpu_pct": {"redis": 1.5}}
    stalled = {**figures(0, 60.0), "services_cpu_pct": {"postgresql": 3.0, "redis": 0.1}}
    line = compare.services_line([("ours ×2", ours), ("reference", reference), ("stalled", stalled),
                                  ("did not run", None), ("sqlite", figures(4000, 5.0))])
    assert line == ("* PostgreSQL and Redis CPU, beside the server's: "
                    "ours ×2: postgresql 44 % (110 µs per move), redis 3 % (7 µs per move); "
                    "reference: redis 2 % (750 µs per move)")
    assert compare.services_line([("sqlite", figures(4000, 5.0))]) == ""


def test_saturation_ratios_compare_each_round_with_the_reference_of_that_round():
    variants = [("ours", []), ("reference", ["--target", "reference"])]
    rows = [("ours (round 1)", figures(6600, 13.0)), ("reference (round 1)", figures(13200, 6.0)),
            ("ours (round 2)", figures(7200, 12.0)), ("reference (round 2)", None),
            ("ours (round 3)", figures(5000, 15.0)), ("reference (round 3)", figures(8000, 7.0))]
    assert compare.against_reference(variants, rows) == (
        "* ours against reference, accepted moves/s in the same round: 0.50×, 0.62×")
    assert compare.against_reference([("ours", [])], rows[:1]) == ""


def served(rate: float, pct: float, p99: float, rss: float = 120.0, errors: dict | None = None) -> dict:
    return {**figures(rate, p99), "served_pct": pct, "peak_rss_mb": rss, "errors": errors or {}}


def test_the_embedded_default_target_names_what_each_missed_round_missed():
    variants = [("ours, uvicorn", []), ("ours, daphne", []), ("reference", ["--target", "reference"])]
    rows = [("u1", served(3990, 99.8, 8.7)), ("d1", served(3990, 99.7, 39.9)), ("r1", served(4000, 100.0, 2.4)),
            ("u2", served(3800, 94.0, 12.0, rss=260.0)), ("d2", served(3990, 99.7, 17.5, errors={"error: x": 2})),
            ("r2", served(4000, 100.0, 90.0))]
    assert compare.verdicts("think", variants, rows) == (
        "* target, at least 95 % served at p99 ≤ 25 ms, no errors, peak RSS ≤ 250 MB: "
        "ours, uvicorn met it in 1 of 2 rounds (round 2: 94.0 % served, peak RSS 260 MB); "
        "ours, daphne met it in 0 of 2 rounds (round 1: p99 39.9 ms; round 2: 2 errors)")


def test_the_postgresql_target_applies_to_two_workers_only():
    variants = [("ours ×1", ["--workers", "1"]), ("ours ×2", ["--server-impl", "uvicorn", "--workers", "2"]),
                ("reference", ["--target", "reference"])]
    rows = [("a", served(3990, 99.2, 47.0)), ("b", served(3750, 94.3, 76.5)), ("c", served(20, 0.5, 9000.0)),
            ("a", served(3990, 99.1, 51.3)), ("b", None), ("c", None)]
    assert compare.verdicts("production", variants, rows) == (
        "* target, two workers: at least 95 % served at p99 ≤ 50 ms, no errors: "
        "ours ×2 met it in 0 of 1 round (round 1: 94.3 % served, p99 76.5 ms)")
    assert compare.verdicts("saturation", variants, rows) == ""


def test_the_saturation_target_counts_the_rounds_at_half_the_reference_or_more():
    variants = [("ours", []), ("reference", ["--target", "reference"])]
    rows = [("o", figures(6600, 13.0)), ("r", figures(13200, 6.0)), ("o", figures(5000, 15.0)),
            ("r", figures(12000, 7.0)), ("o", figures(7000, 12.0)), ("r", None)]
    assert compare.saturation_verdict(variants, rows) == (
        "* target, at least 0.5× the reference's moves/s: ours met it in 1 of 2 rounds")


def test_the_idle_target_wants_every_connection_no_error_and_stable_memory():
    held = {"open": 2000, "errors": {}, "rss_start_mb": 171.0, "rss_end_mb": 172.0}
    assert compare.idle_verdict(held, 2000).endswith(": met")
    leaking = {**held, "open": 1990, "errors": {"connection: OSError": 10}, "rss_start_mb": 100.0,
               "rss_end_mb": 150.0}
    assert compare.idle_verdict(leaking, 2000).endswith(": missed (1990 open, 10 errors, memory grew 50 %)")
