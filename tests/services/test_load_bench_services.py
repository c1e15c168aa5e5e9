"""``bench/load.py`` against a real server on PostgreSQL + Redis: beside the
server's own CPU it reports PostgreSQL's and Redis's, which share the cores
and are part of what a move costs there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.services, pytest.mark.e2e]


def test_the_load_benchmark_reports_the_cpu_postgresql_and_redis_spent_on_the_moves(
    live_server_factory, production_env, tmp_path
):
    server = live_server_factory(env={**production_env, "HEX_MAX_CONNECTIONS_PER_IP": "0",
                                      "HEX_RATE_LIMIT_PER_SECOND": "1000", "HEX_RATE_LIMIT_BURST": "1000"})
    out = tmp_path / "figures.json"

    done = subprocess.run(
        [sys.executable, "bench/load.py", "--url", server.ws_url, "--backend", "postgres-redis", "--games", "3",
         "--think-ms", "20", "--duration", "2", "--warmup", "0.5", "--ramp", "0.2", "--board-size", "7",
         "--series-length", "1", "--client-cpus", "", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert figures["errors"] == {} and figures["accepted"] > 0
    services = figures["services_cpu_pct"]
    assert set(services) == {"postgresql", "redis"}
    # Every move was written to PostgreSQL while it measured; Redis may have had
    # almost nothing to do (both players on one server).
    assert services["postgresql"] > 0
    assert services["redis"] >= 0
    assert "postgresql cpu" in done.stdout and "redis cpu" in done.stdout
