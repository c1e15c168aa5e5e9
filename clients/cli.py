"""``hexgame random|play|gui``: argument parsing and dispatch.

Exit codes: 0 series completed (or the GUI closed by its user), 2 bad
usage, 3 refused by the server, 4 server unreachable or connection lost,
5 opponent left, 6 model error, 7 protocol violation, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from clients.connection import DEFAULT_RECONNECT_WINDOW, DEFAULT_SERVER, SERVER_ENV_VAR
from clients.errors import EXIT_INTERRUPTED, EXIT_USAGE, ClientError
from clients.session import Options, Session, default_username, print_error, run_blocking

BOT_TOKEN_ENV_VAR = "HEX_BOT_TOKEN"

COMMANDS = {
    "random": "play uniformly random legal moves (smoke and load testing)",
    "play": "play with a model: agent(board, action_set) from clients.models.NAME or NAME.py",
    "gui": "pygame window: watch a model play, or play yourself with --model-name human",
}


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _add_common(parser: argparse.ArgumentParser, command: str) -> None:
    default_server = os.environ.get(SERVER_ENV_VAR) or DEFAULT_SERVER
    parser.add_argument("--server", default=default_server,
                        help=f"arena URL, ws:// or wss:// (default: ${SERVER_ENV_VAR} or {DEFAULT_SERVER})")
    parser.add_argument("--board-size", type=int, default=11,
                        help="7, 9, 11, 13 or 19 (default 11; ignored with --slot-id)")
    parser.add_argument("--series-length", type=int, default=1,
                        help="best of 1, 3, ..., 15 (default 1; ignored with --slot-id)")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for reproducible play")
    parser.add_argument("--move-delay", type=_non_negative, default=0.1,
                        help="seconds to wait before each move (default 0.1)")
    if command == "random":
        parser.add_argument("--model-name", default=None,
                            help="label shown to others for this bot (default random_client; with --bot-token, "
                                 "the token's)")
    else:
        parser.add_argument("--model-name", default="model_random",
                            help="model module: clients.models.NAME, else NAME on the current directory/sys.path"
                                 + ("; 'human' to play by clicking" if command == "gui" else ""))
    parser.add_argument("--username", default=None,
                        help="public owner name shown next to the model"
                             + (" (default: none)" if command == "random" else " (default: your OS user; '' for none)"))
    parser.add_argument("--keep-slot", action="store_true",
                        help="after a series (or when the opponent drops), keep the slot and wait for a new opponent")
    parser.add_argument("--slot-id", type=int, default=None,
                        help="join this waiting slot, inheriting its board size and series length")
    parser.add_argument("--reconnect-token", default=None,
                        help="resume a seat through /ws/reconnect (needs --slot-id)")
    parser.add_argument("--replay-log", default="off" if command == "random" else "auto",
                        help="JSONL replay: 'auto' (replays/), a file path, or 'off' "
                             f"(default {'off' if command == 'random' else 'auto'})")
    parser.add_argument("--reconnect-window", type=_positive, default=DEFAULT_RECONNECT_WINDOW,
                        help=f"seconds to keep trying to resume a dropped connection (default "
                             f"{DEFAULT_RECONNECT_WINDOW:g})")
    parser.add_argument("--first-player", type=int, choices=(-1, 1), default=None,
                        help="who opens odd games when this client creates the slot (default: red, -1)")
    competitive = parser.add_argument_group(
        "competitive play (extensions of this arena; pairs only with clients asking for the same)")
    competitive.add_argument("--swap", action="store_true",
                             help="play with the swap rule: the second player may swap the first stone")
    competitive.add_argument("--time-per-move", type=int, default=None, metavar="SECONDS",
                             help="clock: at most SECONDS for every move")
    competitive.add_argument("--time-base", type=int, default=None, metavar="SECONDS",
                             help="clock: SECONDS for the whole game per player (with --time-increment)")
    competitive.add_argument("--time-increment", type=int, default=None, metavar="SECONDS",
                             help="clock: SECONDS added after each move (Fischer; needs --time-base)")
    competitive.add_argument("--bot-token", default=os.environ.get(BOT_TOKEN_ENV_VAR) or None,
                             help=f"operator-issued bot token: verified identity, rated games "
                                  f"(default ${BOT_TOKEN_ENV_VAR})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hexgame", description="Clients for the Hex arena.")
    commands = parser.add_subparsers(dest="command", metavar="{random,play,gui}", required=True)
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        _add_common(sub, name)
        if name == "gui":
            sub.add_argument("--match-delay", type=_non_negative, default=3.0,
                             help="seconds the finished board of a game stays shown before the next one "
                                  "(default 3; SPACE skips)")
            sub.add_argument("--close-when-done", action="store_true",
                             help="close the window by itself when the session ends (demos, CI)")
    return parser


def options_from(args: argparse.Namespace) -> Options:
    username = args.username
    # With a bot token the server fills in the token's username (and, for the
    # random client, its model name); only labels given explicitly are checked.
    if username is None and args.command != "random" and not args.bot_token:
        username = default_username()
    model_name = args.model_name
    if model_name is None and not args.bot_token:
        model_name = "random_client"
    return Options(
        command=args.command, server=args.server, board_size=args.board_size, series_length=args.series_length,
        seed=args.seed, move_delay=args.move_delay, model_name=model_name, username=username or None,
        keep_slot=args.keep_slot, slot_id=args.slot_id, reconnect_token=args.reconnect_token,
        replay_log=args.replay_log, reconnect_window=args.reconnect_window, first_player=args.first_player,
        swap=args.swap, time_per_move=args.time_per_move, time_base=args.time_base,
        time_increment=args.time_increment, bot_token=args.bot_token,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.reconnect_token is not None and args.slot_id is None:
        parser.error("--reconnect-token needs --slot-id")
    if args.time_per_move is not None and (args.time_base is not None or args.time_increment is not None):
        parser.error("choose either --time-per-move or --time-base (with --time-increment)")
    if args.time_increment is not None and args.time_base is None:
        parser.error("--time-increment needs --time-base")
    options = options_from(args)
    try:
        if args.command == "gui":
            try:
                import pygame  # noqa: F401 - an optional extra, checked before any connection
            except ImportError as exc:
                print_error(f"the GUI needs pygame: pip install 'hexgame[gui]' ({exc})")
                return EXIT_USAGE
            from clients.gui import run_gui

            return run_gui(options, match_delay=args.match_delay, close_when_done=args.close_when_done)
        session = Session(options)
        return run_blocking(session)
    except ClientError as exc:
        print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
