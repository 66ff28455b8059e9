"""Exceptions as text for people."""

from __future__ import annotations


def describe(exc: BaseException) -> str:
    """The exception's message, or its type when the message is empty.

    Many network errors (timeouts, a closed connection) carry no message;
    their type is then the only clue, and a line never ends in "()".
    """
    return str(exc) or type(exc).__name__
