"""Failures a person can act on, each with its own exit code.

The CLI prints ``str(error)`` as one line on stderr and exits with
``error.exit_code``; the codes are documented in docs/clients.md.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_UNREACHABLE = 4
EXIT_OPPONENT_LEFT = 5
EXIT_MODEL = 6
EXIT_PROTOCOL = 7
EXIT_ENGINE = 8
EXIT_INTERRUPTED = 130


class ClientError(Exception):
    """Base of the errors that end a client with a one-line message."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ServerRefusedError(ClientError):
    """The server answered with an ``error`` message (bad parameters, no free slot, ...)."""

    exit_code = EXIT_REFUSED


class ServerUnreachableError(ClientError):
    """No connection could be made, or a lost one could not be resumed."""

    exit_code = EXIT_UNREACHABLE


class OpponentLeftError(ClientError):
    """The opponent is gone for good (reconnect window passed, or they kept the slot)."""

    exit_code = EXIT_OPPONENT_LEFT


class ModelError(ClientError):
    """The model could not be loaded, raised, or returned an unusable move."""

    exit_code = EXIT_MODEL


class ProtocolViolationError(ClientError):
    """The server sent something that contradicts the protocol or our board."""

    exit_code = EXIT_PROTOCOL
