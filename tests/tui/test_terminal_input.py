"""Terminal input that is not UTF-8: replaced, not raised."""

from __future__ import annotations

from auditlog.tui.terminal_input import replacing_decoder, tolerate_invalid_utf8


def test_a_byte_that_is_not_utf8_decodes_to_the_replacement_character() -> None:
    """The decoder the driver gets replaces a Latin-1 "ü" and keeps a UTF-8 one split across two reads."""
    decode = replacing_decoder("utf-8")().decode
    assert (decode(b"k\xfcr"), decode(b"\xc3"), decode(b"\xbc", final=True)) == ("k\ufffdr", "", "\u00fc")


def test_the_driver_takes_its_decoders_from_the_replacing_factory() -> None:
    """After tolerate_invalid_utf8, Textual's Linux driver builds its input decoder with replacement."""
    from textual.drivers import linux_driver

    tolerate_invalid_utf8()
    assert linux_driver.getincrementaldecoder("utf-8")().decode(b"\xff", final=True) == "\ufffd"
