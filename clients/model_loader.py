"""Finding a model's ``agent`` and checking what it returns.

``load_model(NAME)`` imports ``clients.models.NAME`` first, then a plain
module ``NAME`` from the current directory or ``sys.path``. ``validate_move``
accepts only an integer ``(row, col)`` pair that is in ``action_set``, so a
broken model stops the client with a "model move error" before anything
illegal reaches the server.
"""

from __future__ import annotations

import importlib
import inspect
import operator
import os
import sys
from collections.abc import Callable, Collection
from typing import Any

from clients.errors import ModelError

Agent = Callable[[list[list[int]], list[tuple[int, int]]], Any]

BUNDLED_PACKAGE = "clients.models"
HUMAN = "human"


class ModelMoveError(ModelError):
    """The model returned something that is not a legal ``(row, col)`` move."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"model move error: {detail}")
        self.detail = detail


def _missing_is_the_model(exc: ModuleNotFoundError, full_name: str) -> bool:
    """True when the module not found is the model itself (or a package on its
    path), not something the model imports."""
    missing = exc.name or ""
    return bool(missing) and (full_name == missing or full_name.startswith(missing + "."))


def _import(full_name: str) -> Any | None:
    """The module, ``None`` when it does not exist; other import failures are model errors."""
    try:
        return importlib.import_module(full_name)
    except ModuleNotFoundError as exc:
        if _missing_is_the_model(exc, full_name):
            return None
        raise ModelError(f"model {full_name!r} failed to import: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any failure in a user's module is reported, not a crash
        raise ModelError(f"model {full_name!r} failed to import: {type(exc).__name__}: {exc}") from exc


def load_model(name: str, options: dict[str, Any] | None = None) -> Agent:
    """The ``agent`` callable of model ``name``.

    A model that defines ``configure(**options)`` gets the client's model
    options first (``iterations``, ``think_time``, ``seed``; ``None`` when not
    given); models without it ignore them.
    """
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise ModelError(f"invalid model name {name!r}: use a Python module name such as model_random or my_agent")
    module = _import(f"{BUNDLED_PACKAGE}.{name}")
    if module is None:
        # Console scripts do not put the working directory on sys.path, but
        # users drop their my_agent.py right where they run hexgame.
        cwd = os.getcwd()
        added = cwd not in sys.path
        if added:
            sys.path.insert(0, cwd)
        try:
            module = _import(name)
        finally:
            if added and cwd in sys.path:
                sys.path.remove(cwd)
    if module is None:
        raise ModelError(f"no model named {name!r}: not a bundled model ({BUNDLED_PACKAGE}.{name}) "
                         f"and no module {name} in {os.getcwd()} or on sys.path")
    agent = getattr(module, "agent", None)
    if not callable(agent):
        raise ModelError(f"model {name!r} ({getattr(module, '__file__', '?')}) has no agent(board, action_set) "
                         f"function")
    configure = getattr(module, "configure", None)
    if callable(configure):
        try:
            configure(**(options or {}))
        except Exception as exc:  # noqa: BLE001 - a user's configure() failing is a model error
            raise ModelError(f"model {name!r} rejected its options: {type(exc).__name__}: {exc}") from exc
    return agent


def wants_player(agent: Agent) -> bool:
    """True when ``agent`` declares a ``player`` parameter (it is then told its
    own player id, -1 red or 1 blue, as ``player=``)."""
    try:
        parameters = inspect.signature(agent).parameters
    except (TypeError, ValueError):
        return False
    return "player" in parameters


def _coordinate(value: Any, which: str, move: Any) -> int:
    # bool is an int subclass, but True/False as a coordinate is always a bug.
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ModelMoveError(f"{which} is a boolean in {move!r}; expected integers (row, col)")
    try:
        return operator.index(value)
    except TypeError:
        raise ModelMoveError(f"{which} is not an integer in {move!r} ({type(value).__name__}); "
                             f"expected integers (row, col)") from None


def validate_move(move: Any, action_set: Collection[tuple[int, int]], board_size: int) -> tuple[int, int]:
    """The model's ``(row, col)`` as plain ints, or ``ModelMoveError`` saying what is wrong."""
    # Any indexable pair will do (tuple, list, a numpy array); strings,
    # mappings, sets and scalars will not.
    if (isinstance(move, str | bytes | dict | set | frozenset) or not hasattr(move, "__len__")
            or not hasattr(move, "__getitem__")):
        raise ModelMoveError(f"agent returned {move!r} ({type(move).__name__}); expected a (row, col) pair")
    length = len(move)
    if length != 2:
        raise ModelMoveError(f"agent returned {move!r} with {length} values; expected a (row, col) pair")
    row = _coordinate(move[0], "row", move)
    col = _coordinate(move[1], "col", move)
    legal = action_set if isinstance(action_set, set | frozenset) else set(action_set)
    if (row, col) in legal:
        return row, col
    if not (0 <= row < board_size and 0 <= col < board_size):
        raise ModelMoveError(f"(row={row}, col={col}) is outside the {board_size}x{board_size} board")
    if (col, row) in legal:
        raise ModelMoveError(f"(row={row}, col={col}) is not a legal move but (row={col}, col={row}) is: the model "
                             f"seems to return (q, r) order; agent() must return (row, col)")
    raise ModelMoveError(f"(row={row}, col={col}) is occupied (not in action_set)")
