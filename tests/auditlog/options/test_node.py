"""Tests for auditlog.options.node: the local node's heap and port flags, one parser each for es and demo."""

from __future__ import annotations

import argparse

import pytest

from auditlog.cli import main
from auditlog.options.node import port_arg


@pytest.mark.parametrize(("lowest", "text"), [(1, "0"), (1, "65536"), (0, "-1"), (1, "9200.5"), (1, "x")])
def test_a_port_out_of_range_or_not_whole_is_refused(lowest: int, text: str) -> None:
    """Ports outside lowest-65535, or not a whole number, are argparse errors naming the value."""
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text) if not text.lstrip("-").isdigit() else text):
        port_arg(lowest)(text)


@pytest.mark.parametrize(("lowest", "text", "port"), [(1, "1", 1), (1, "65535", 65535), (0, "0", 0)])
def test_ports_in_range_pass(lowest: int, text: str, port: int) -> None:
    """The range's ends are ports; 0 only where any free port is allowed."""
    assert port == port_arg(lowest)(text)


@pytest.mark.parametrize("argv", [["es", "status", "--port", "70000"], ["es", "stop", "--port", "0"],
                                  ["demo", "run", "--port", "65536"]])
def test_es_and_demo_refuse_a_bad_port_with_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`es` and `demo run` share the port parser: a bad --port exits 2 before anything starts."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert (2, True) == (caught.value.code, "must be a TCP port" in capsys.readouterr().err)
