"""Issue 5's benchmark matrix in one run: ours (daphne and uvicorn) beside the
reference server, printed as Markdown tables.

    python bench/compare.py                # everything (about 10 minutes)
    python bench/compare.py --quick        # 5 s measured per scenario
    python bench/compare.py --only saturation,think
    python bench/compare.py --rounds 3     # each scenario's servers in turn, three times over

This machine's speed drifts by a third within minutes, so with ``--rounds``
each scenario runs all its servers in turn, round after round, and prints every
round: compare rows of the same round, and the medians below the table.

Every scenario is one ``bench/load.py`` run (its own fresh server, pinned to
core 0, the load generator to core 1). The reference is
``hexgame-server==0.4.3`` from a scratch venv (``HEX_REFERENCE_VENV``, default
/tmp/refvenv); scenarios needing it are skipped with a note when it is not
installed. PostgreSQL + Redis scenarios need the local services.
"""

from __future__ import annotations

import argparse
import json
import statistics
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
             "| server | accepted moves/s | served | RTT p50 / p95 / p99 / max (ms) | to opponent p50 / p99 (ms) "
             "| matchmaking p50 / p99 (ms) | errors | server CPU (per move) | peak RSS |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, fig in rows:
        if fig is None:
            lines.append(f"| {label} | (did not run) | | | | | | | |")
            continue
        rtt, mm = fig["rtt_ms"], fig["matchmaking_ms"]
        # Figures written before the opponent's delivery was measured have none.
        delivered = fig.get("to_opponent_ms")
        to_opponent = f"{delivered['p50']:.1f} / {delivered['p99']:.1f}" if delivered else "—"
        served = f"{fig['served_pct']:.1f} %" if fig["served_pct"] is not None else "—"
        errors = sum(fig["errors"].values())
        # No game started while measuring (every series outlasted the window): no figure.
        matchmaking = "—" if mm["p50"] != mm["p50"] else f"{mm['p50']:.0f} / {mm['p99']:.0f}"
        # CPU per move tells a fast hour of this machine from a slow one: compare with the
        # reference's in the same round.
        cpu = f"{fig['server_cpu_pct']:.0f} %"
        if fig["accepted_per_s"]:
            cpu += f" ({fig['server_cpu_pct'] / 100 / fig['accepted_per_s'] * 1e6:.0f} µs)"
        lines.append(
            f"| {label} | {fig['accepted_per_s']:.0f} | {served} | {rtt['p50']:.1f} / {rtt['p95']:.1f} / "
            f"{rtt['p99']:.1f} / {rtt['max']:.0f} | {to_opponent} | {matchmaking} | {errors} | "
            f"{cpu} | {fig['peak_rss_mb']:.0f} MB |")
    return "\n".join(lines)


def medians(variants: list[tuple[str, list[str]]], rows: list[tuple[str, dict | None]], rounds: int) -> str:
    """Per server, the median over the rounds of accepted moves/s and RTT p99."""
    lines = []
    for index, (label, _) in enumerate(variants):
        figures = [fig for _, fig in rows[index::len(variants)] if fig is not None]
        if not figures:
            continue
        rates = sorted(fig["accepted_per_s"] for fig in figures)
        p99s = sorted(fig["rtt_ms"]["p99"] for fig in figures)
        lines.append(f"* {label}: median of {len(figures)} rounds {statistics.median(rates):.0f} moves/s "
                     f"(range {rates[0]:.0f}-{rates[-1]:.0f}), RTT p99 {statistics.median(p99s):.1f} ms "
                     f"(range {p99s[0]:.1f}-{p99s[-1]:.1f})")
    return "\n".join(lines)


def against_reference(variants: list[tuple[str, list[str]]], rows: list[tuple[str, dict | None]]) -> str:
    """Per server, its accepted moves/s as a multiple of the reference's in the
    same round (issue 5's saturation target: at least 0.5×). Rounds, not
    medians: the machine's speed drifts between them."""
    reference = next((index for index, (_, extra) in enumerate(variants) if "--target" in extra), None)
    if reference is None:
        return ""
    lines = []
    for index, (label, _) in enumerate(variants):
        if index == reference:
            continue
        ratios = []
        for start in range(0, len(rows), len(variants)):
            ours, theirs = rows[start + index][1], rows[start + reference][1]
            if ours is not None and theirs is not None and theirs["accepted_per_s"]:
                ratios.append(ours["accepted_per_s"] / theirs["accepted_per_s"])
        if ratios:
            lines.append(f"* {label} against {variants[reference][0]}, accepted moves/s in the same round: "
                         + ", ".join(f"{ratio:.2f}×" for ratio in ratios))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s measured per scenario")
    parser.add_argument("--only", default="", help="comma-separated: saturation, think, production, idle")
    parser.add_argument("--rounds", type=int, default=1, help="run each scenario's servers in turn this many times")
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
        for round_ in range(1, args.rounds + 1):
            suffix = f" (round {round_})" if args.rounds > 1 else ""
            for label, extra in variants:
                if "--target" in extra and not REFERENCE.exists():
                    rows.append((label + " (not installed)", None))
                    continue
                rows.append((label + suffix, run(label, [*common, *timing, *extra])))
        out.append(table(title, rows))
        if args.rounds > 1:
            out.append(medians(variants, rows, args.rounds))
        if name == "saturation" and (ratios := against_reference(variants, rows)):
            out.append(ratios)
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
