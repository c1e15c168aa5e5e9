"""``bench/load.py`` against a real daphne server: the figures it reports come
from games really played, and every move it counts was stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.arena_db import moves_in

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_benchmark_plays_real_games_and_reports_both_players_latencies(live_server_factory, tmp_path):
    server = live_server_factory(env={"HEX_MAX_CONNECTIONS_PER_IP": "0", "HEX_RATE_LIMIT_PER_SECOND": "1000",
                                      "HEX_RATE_LIMIT_BURST": "1000"})
    out = tmp_path / "figures.json"

    done = subprocess.run(
        [sys.executable, "bench/load.py", "--url", server.ws_url, "--games", "3", "--think-ms", "20",
         "--duration", "2", "--warmup", "0.5", "--ramp", "0.2", "--board-size", "7", "--series-length", "1",
         "--client-cpus", "", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert figures["errors"] == {}
    assert figures["accepted_per_s"] > 0
    assert figures["served_pct"] is not None
    # The mover's round trip and the opponent's delivery are separate figures,
    # each from real broadcasts.
    for name in ("rtt_ms", "to_opponent_ms"):
        assert 0 < figures[name]["p50"] <= figures[name]["p99"] <= figures[name]["max"], figures[name]
    assert "move to opponent" in done.stdout
    # Series ended and players queued again while it measured (no figure is NaN),
    # and the server stored at least the moves counted.
    assert figures["matchmaking_ms"]["p50"] > 0
    assert figures["accepted"] > 0
    assert len(moves_in(server.workdir / "arena.sqlite3")) >= figures["accepted"]
