"""``hexgame random|play|gui|engine|house|watch|replay``: argument parsing and dispatch.

Exit codes: 0 series completed (or the GUI closed by its user), 2 bad
usage, 3 refused by the server, 4 server unreachable or connection lost,
5 opponent left, 6 model error, 7 protocol violation, 8 engine error
(``engine``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from clients.connection import DEFAULT_RECONNECT_WINDOW, DEFAULT_SERVER, SERVER_ENV_VAR
from clients.errors import EXIT_INTERRUPTED, EXIT_USAGE, ClientError
from clients.house import HOUSE_USERNAME, run_house, seats_from
from clients.model_loader import load_model
from clients.session import Options, Session, default_username, print_error, run_blocking

BOT_TOKEN_ENV_VAR = "HEX_BOT_TOKEN"

COMMANDS = {
    "random": "play uniformly random legal moves (smoke and load testing)",
    "play": "play with a model: agent(board, action_set) from clients.models.NAME or NAME.py",
    "gui": "pygame window: watch a model play, or play yourself with --model-name human",
    "engine": "drive a Hex engine that speaks HTP (boardsize, play, genmove, ...) as an arena client",
    "house": "keep one bot waiting for each board size x series length (house bots), re-queuing forever",
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
    elif command == "engine":
        parser.add_argument("--model-name", default=None,
                            help="label shown to others (default: the engine's answer to 'name')")
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
    if command in ("play", "gui"):
        _add_budget(parser)
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _add_budget(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iterations", type=_positive_int, default=None,
                        help="search iterations per move for models that search (model_mcts: default 2000)")
    parser.add_argument("--think-time", type=_positive, default=None,
                        help="seconds of search per move for models that search (not reproducible; "
                             "with --iterations, whichever ends first)")


def _add_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cmd", required=True, metavar="COMMAND_LINE",
                        help="the engine's command line, run over pipes (e.g. \"mohex --use-logfile=0\")")
    parser.add_argument("--black", choices=("blue", "red"), default="blue",
                        help="which arena colour the engine calls black (default blue: black connects top and "
                             "bottom as in HexGui/Benzene)")
    parser.add_argument("--engine-timeout", type=_positive, default=60.0,
                        help="seconds the engine may take to answer one command, genmove included (default 60)")
    parser.add_argument("--time-left", type=_positive, default=None,
                        help="send 'time_left COLOUR SECONDS 0' before every genmove (default: not sent)")


def _add_house(parser: argparse.ArgumentParser) -> None:
    default_server = os.environ.get(SERVER_ENV_VAR) or DEFAULT_SERVER
    parser.add_argument("--server", default=default_server,
                        help=f"arena URL, ws:// or wss:// (default: ${SERVER_ENV_VAR} or {DEFAULT_SERVER})")
    parser.add_argument("--model", "--model-name", dest="model_name", default="model_mcts",
                        help="model of the bots (default model_mcts)")
    parser.add_argument("--board-size", type=int, action="append", default=None,
                        help="a board size to keep a bot waiting for; repeat for several (default 11 unless --bot)")
    parser.add_argument("--series-length", type=int, action="append", default=None,
                        help="a series length; repeat for several (default 1); every size x length gets a bot")
    parser.add_argument("--bot", action="append", default=[], metavar="MODEL:SIZE[:SERIES]",
                        help="one more bot, e.g. model_mcts:11:3 (the format of HEX_HOUSE_BOTS)")
    parser.add_argument("--username", default=HOUSE_USERNAME,
                        help=f"owner name shown for the bots; the pages list waiting bots of this name "
                             f"(default {HOUSE_USERNAME})")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--move-delay", type=_non_negative, default=0.2,
                        help="seconds to wait before each move (default 0.2, so people can follow)")
    parser.add_argument("--reconnect-window", type=_positive, default=DEFAULT_RECONNECT_WINDOW,
                        help="seconds to keep resuming a dropped seat before queueing again "
                             f"(default {DEFAULT_RECONNECT_WINDOW:g})")
    parser.add_argument("--max-backoff", type=_positive, default=30.0,
                        help="longest wait between attempts to get a seat again (default 30)")
    parser.add_argument("--replay-log", default="off", help="JSONL replay per session: 'off' (default) or 'auto'")
    _add_budget(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hexgame", description="Clients for the Hex arena.")
    commands = parser.add_subparsers(dest="command", metavar="{" + ",".join([*COMMANDS, "watch", "replay"]) + "}",
                                     required=True)
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if name == "house":
            _add_house(sub)
            continue
        _add_common(sub, name)
        if name == "engine":
            _add_engine(sub)
        if name == "gui":
            sub.add_argument("--match-delay", type=_non_negative, default=3.0,
                             help="seconds the finished board of a game stays shown before the next one "
                                  "(default 3; SPACE skips)")
            sub.add_argument("--close-when-done", action="store_true",
                             help="close the window by itself when the session ends (demos, CI)")
    _add_watch(commands)
    _add_replay(commands)
    return parser


def _add_watch(commands: argparse._SubParsersAction) -> None:
    summary = "follow a slot live as a spectator (/ws/watch), in the terminal or the GUI"
    sub = commands.add_parser("watch", help=summary, description=summary)
    sub.add_argument("--slot-id", type=int, required=True, help="the slot to watch (see /slots or /overview)")
    sub.add_argument("--server", default=os.environ.get(SERVER_ENV_VAR) or DEFAULT_SERVER,
                     help=f"arena URL, ws:// or wss:// (default: ${SERVER_ENV_VAR} or {DEFAULT_SERVER})")
    sub.add_argument("--gui", action="store_true", help="draw the board in a pygame window")
    sub.add_argument("--until-over", action="store_true", help="exit when the series being watched is over")
    sub.add_argument("--reconnect-window", type=_positive, default=DEFAULT_RECONNECT_WINDOW,
                     help="seconds to keep trying after the connection dropped")


def _add_replay(commands: argparse._SubParsersAction) -> None:
    summary = "step through recorded games: a replay log, an .sgf/.json record, or --game ID from a server"
    sub = commands.add_parser("replay", help=summary, description=summary)
    sub.add_argument("file", nargs="?", help="replays/*.jsonl log, or a .sgf/.json download")
    sub.add_argument("--game", type=int, default=None, help="fetch this game's record from --server")
    sub.add_argument("--server", default=os.environ.get(SERVER_ENV_VAR) or DEFAULT_SERVER,
                     help="arena URL for --game (ws://, wss://, http:// or https://)")
    sub.add_argument("--gui", action="store_true", help="step in a pygame window (arrow keys)")
    sub.add_argument("--print-all", action="store_true", help="print every position and exit (no prompts)")
    sub.add_argument("--move", type=int, default=0, help="start at the position after this many moves")


def _watch(args: argparse.Namespace) -> int:
    from clients.watch import WatchOptions, run_watch

    if args.gui and not _has_pygame():
        return EXIT_USAGE
    return run_watch(WatchOptions(server=args.server, slot_id=args.slot_id, until_over=args.until_over,
                                  reconnect_window=args.reconnect_window), gui=args.gui)


def _replay(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from clients import replay_view

    if (args.file is None) == (args.game is None):
        parser.error("replay needs a FILE or --game ID (not both)")
    games = replay_view.load_file(args.file) if args.file else [replay_view.fetch_game(args.server, args.game)]
    if args.gui:
        if not _has_pygame():
            return EXIT_USAGE
        return replay_view.run_gui(games, start=args.move)
    return replay_view.run_terminal(games, print_all=args.print_all, start=args.move)


def _has_pygame() -> bool:
    try:
        import pygame  # noqa: F401 - an optional extra, checked before any connection
    except ImportError as exc:
        print_error(f"the GUI needs pygame: pip install 'hexgame[gui]' ({exc})")
        return False
    return True


def options_from(args: argparse.Namespace) -> Options:
    username = args.username
    # With a bot token the server fills in the token's username (and, for the
    # random client, its model name); only labels given explicitly are checked.
    if username is None and args.command != "random" and not getattr(args, "bot_token", None):
        username = default_username()
    if args.command == "house":
        return Options(command="house", server=args.server, seed=args.seed, move_delay=args.move_delay,
                       model_name=args.model_name, username=username or None, keep_slot=True,
                       replay_log=args.replay_log, reconnect_window=args.reconnect_window,
                       iterations=args.iterations, think_time=args.think_time, keep_on_disconnect=False)
    model_name = args.model_name
    if model_name is None and not args.bot_token and args.command == "random":
        model_name = "random_client"
    return Options(
        command=args.command, server=args.server, board_size=args.board_size, series_length=args.series_length,
        seed=args.seed, move_delay=args.move_delay, model_name=model_name, username=username or None,
        keep_slot=args.keep_slot, slot_id=args.slot_id, reconnect_token=args.reconnect_token,
        replay_log=args.replay_log, reconnect_window=args.reconnect_window, first_player=args.first_player,
        iterations=getattr(args, "iterations", None), think_time=getattr(args, "think_time", None),
        engine_cmd=getattr(args, "cmd", None), engine_black=getattr(args, "black", "blue"),
        engine_timeout=getattr(args, "engine_timeout", 60.0), engine_time_left=getattr(args, "time_left", None),
        swap=args.swap, time_per_move=args.time_per_move, time_base=args.time_base,
        time_increment=args.time_increment, bot_token=args.bot_token,
    )


def _house(parser: argparse.ArgumentParser, args: argparse.Namespace, options: Options) -> int:
    from games import rules

    sizes = args.board_size or ([] if args.bot else [11])
    lengths = args.series_length or [1]
    try:
        seats = seats_from(args.model_name, sizes, lengths, args.bot)
    except ValueError as exc:
        parser.error(str(exc))
    for seat in seats:
        if seat.board_size not in rules.BOARD_SIZES:
            parser.error(f"board size {seat.board_size}: use one of {', '.join(map(str, rules.BOARD_SIZES))}")
        if seat.series_length not in rules.SERIES_LENGTHS:
            parser.error(f"series length {seat.series_length}: use one of "
                         f"{', '.join(map(str, rules.SERIES_LENGTHS))}")
    if not seats:
        parser.error("no house bot to run: give --board-size or --bot")
    # Load every model once before connecting, so a typo fails at once (exit 6).
    for model in sorted({seat.model for seat in seats}):
        load_model(model, {"iterations": options.iterations, "think_time": options.think_time, "seed": options.seed})
    return run_house(seats, options, max_backoff=args.max_backoff)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "reconnect_token", None) is not None and args.slot_id is None:
        parser.error("--reconnect-token needs --slot-id")
    per_move, base, increment = (getattr(args, name, None) for name in ("time_per_move", "time_base",
                                                                        "time_increment"))
    if per_move is not None and (base is not None or increment is not None):
        parser.error("choose either --time-per-move or --time-base (with --time-increment)")
    if increment is not None and base is None:
        parser.error("--time-increment needs --time-base")
    try:
        if args.command == "watch":
            return _watch(args)
        if args.command == "replay":
            return _replay(args, parser)
        options = options_from(args)
        if args.command == "house":
            return _house(parser, args, options)
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
