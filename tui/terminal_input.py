"""What the terminal sends is read as UTF-8 with a replacement character for any byte that is not.

Textual's Linux driver decodes the terminal's input with a strict UTF-8 decoder: one byte that is not UTF-8 (a
Latin-1 terminal's "ü", a pasted binary) raised in its input thread and ended the app with a traceback. The driver
takes its decoder factory from its module, so :func:`tolerate_invalid_utf8` gives it one that replaces such bytes
(U+FFFD), as a terminal shows them; a search for that text then finds what holds the replacement character, which
is nothing, instead of ending the session.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import Any


def replacing_decoder(encoding: str) -> Callable[..., Any]:
    """An incremental decoder class for ``encoding`` whose instances replace undecodable bytes.

    Args:
        encoding: the codec's name (the driver asks for "utf-8").

    Returns:
        A factory the driver calls with no arguments, as it calls ``codecs.getincrementaldecoder(encoding)``.
    """
    decoder = codecs.getincrementaldecoder(encoding)
    return lambda errors="replace": decoder(errors)


def tolerate_invalid_utf8() -> None:
    """Make Textual's Linux driver decode the terminal's input with replacement (call before the app runs)."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # another platform's driver
        return
    linux_driver.getincrementaldecoder = replacing_decoder
