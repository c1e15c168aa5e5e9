"""Issue 5's benchmark matrix in one run: ours (daphne and uvicorn) beside the
reference server, printed as Markdown tables.

    python bench/compare.py                # everything (about 10 minutes)
    python bench/compare.py --quick        # 5 s measured per scenario
    python bench/compare.py --only saturation,think

Every scenario is one ``bench/load.py`` run (its own fresh server, pinned to
core 0, the load generator to core 1). The reference is
``hexgame-server==0.4.3`` from a scratch venv (``HEX_REFERENCE_VENV``, default
/tmp/refvenv); scenarios needing it are skipped with a note when it is not
installed. PostgreSQL + Redis scenarios need the local services.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD = ROOT / "bench" / "load.py"
REFERENCE = Path(__import__("os").environ.get("HEX_REFERENCE_VENV", "/tmp/refvenv")) / "bin" / "hexgame-server"

OURS_DAPHNE = ["--server-impl", "daphne"]
OURS_UVICORN = ["--server-impl", "uvicorn"]
REF = ["--target", "reference"]

SCENARIOS = {
    "saturation": ("50 games, no think time (SQLite / memory)", ["--games", "50", "--think-ms", "0"], [
        ("ours, daphne", OURS_DAPHNE), ("ours, uvicorn", OURS_UVICORN), ("reference 0.4.3, memory", REF)]),
    "think": ("200 games, 50 ms think time (SQLite / memory)", ["--games", "200", "--think-ms", "50"], [
        ("ours, daphne", OURS_DAPHNE), ("ours, uvicorn", OURS_UVICORN), ("reference 0.4.3, memory", REF)]),
    "production": ("200 games, 50 ms think time, PostgreSQL + Redis",
                   ["--games", "200", "--think-ms", "50", "--backend", "postgres-redis"], [
        ("ours, uvicorn ×1", OURS_UVICORN + ["--workers", "1"]),
        ("ours, uvicorn ×2", OURS_UVICORN + ["--workers", "2", "--server-cpus", "0", "--client-cpus", "1"]),
        ("ours, daphne ×2", OURS_DAPHNE + ["--workers", "2"]),
        ("reference 0.4.3, redis", REF)]),
}


def run(label: str, args: list[str]) -> dict | None:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, str(LOAD), *args, "--json", out.name]
        print(f"# {label}: {' '.join(args)}", file=sys.stderr, flush=True)
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            print(result.stdout + result.stderr, file=sys.stderr)
            return None
        print(result.stdout, file=sys.stderr)
        return json.loads(Path(out.name).read_text())


def table(title: str, rows: list[tuple[str, dict | None]]) -> str:
    lines = [f"**{title}**", "",
             "| server | accepted moves/s | served | RTT p50 / p95 / p99 / max (ms) | matchmaking p50 / p99 (ms) "
             "| errors | server CPU | peak RSS |",
             "|---|---|---|---|---|---|---|---|"]
    for label, fig in rows:
        if fig is None:
            lines.append(f"| {label} | (did not run) | | | | | | |")
            continue
        rtt, mm = fig["rtt_ms"], fig["matchmaking_ms"]
        served = f"{fig['served_pct']:.1f} %" if fig["served_pct"] is not None else "—"
        errors = sum(fig["errors"].values())
        # No game started while measuring (every series outlasted the window): no figure.
        matchmaking = "—" if mm["p50"] != mm["p50"] else f"{mm['p50']:.0f} / {mm['p99']:.0f}"
        lines.append(
            f"| {label} | {fig['accepted_per_s']:.0f} | {served} | {rtt['p50']:.1f} / {rtt['p95']:.1f} / "
            f"{rtt['p99']:.1f} / {rtt['max']:.0f} | {matchmaking} | {errors} | "
            f"{fig['server_cpu_pct']:.0f} % | {fig['peak_rss_mb']:.0f} MB |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s measured per scenario")
    parser.add_argument("--only", default="", help="comma-separated: saturation, think, production, idle")
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name] or [*SCENARIOS, "idle"]
    timing = ["--duration", "5" if args.quick else "15"]
    out = []
    for name in chosen:
        if name == "idle":
            fig = run("idle", ["--idle-connections", "2000", "--hold", "15" if args.quick else "60",
                               "--server-impl", "uvicorn"])
            if fig:
                out.append(f"**2,000 idle connections, held {'15' if args.quick else '60'} s (ours, uvicorn)**: "
                           f"{fig['open']} open, errors {sum(fig['errors'].values())}, RSS "
                           f"{fig['rss_start_mb']:.0f} MB after connecting, {fig['rss_end_mb']:.0f} MB at the end")
            continue
        title, common, variants = SCENARIOS[name]
        rows = []
        for label, extra in variants:
            if "--target" in extra and not REFERENCE.exists():
                rows.append((label + " (not installed)", None))
                continue
            rows.append((label, run(label, [*common, *timing, *extra])))
        out.append(table(title, rows))
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
