"""Run a piece of server code in a process of its own, against a given database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# What every script starts with: Django set up on the database, migrated, slots created.
PREAMBLE = r"""
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from matchmaking import services
services.ensure_slots()
"""


def run_script(script: str, database_url: str) -> Any:
    """Run ``PREAMBLE`` + ``script`` with ``HEX_DATABASE_URL=database_url`` (a fresh
    process, so nothing of this test process's Django state is shared) and
    return what it printed last, as JSON."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hexsite.settings", "HEX_DATABASE_URL": database_url,
           "HEX_LOG_LEVEL": "ERROR", "PYTHONPATH": str(ROOT)}
    env.pop("HEX_TESTING", None)
    done = subprocess.run([sys.executable, "-c", PREAMBLE + script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
