"""Argument handling of ``auditlog keys`` (the real revoke: tests/integration/test_tenant_keys.py)."""

from __future__ import annotations

import pytest

from auditlog.cli import main

UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing answers, so a parsed command fails at connecting


def test_revoke_without_an_id_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`keys revoke` with no id is a usage error: exit 2 and one line saying what to give."""
    code = main(["keys", "revoke", "--es", UNREACHABLE])
    err = capsys.readouterr().err.strip().splitlines()
    assert (2, 1, True) == (code, len(err), "give at least one key id" in err[0])


DASHED = "-Xk3f9a2LmQp0Zr1Tt7w"


@pytest.mark.parametrize("argv", [[DASHED], ["abc", DASHED], ["--", DASHED]])
def test_revoke_takes_an_id_that_starts_with_a_dash(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """An id beginning with '-' (base64url allows it) is an id, not a flag: parsing passes, connecting fails."""
    code = main(["keys", "revoke", "--es", UNREACHABLE, *argv])
    err = capsys.readouterr().err
    assert (1, False) == (code, "unrecognized arguments" in err or "required" in err)


def test_revoke_still_refuses_an_unknown_long_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """A leftover starting with '--' is still an unknown flag: exit 2."""
    with pytest.raises(SystemExit) as exc:
        main(["keys", "revoke", "--es", UNREACHABLE, "abc", "--bogus"])
    assert (2, True) == (exc.value.code, "unrecognized arguments: --bogus" in capsys.readouterr().err)


@pytest.mark.parametrize("org", ["", "   ", "org\n1"])
def test_an_empty_tenant_exits_2_without_the_cluster(org: str, capsys: pytest.CaptureFixture[str]) -> None:
    """keys tenant with an empty or blank ORG is a usage error before any request (it used to ask the cluster)."""
    with pytest.raises(SystemExit) as caught:
        main(["keys", "tenant", org, "--es", "http://127.0.0.1:9"])
    assert (2, True) == (caught.value.code, "argument ORG: must be an organization.id" in capsys.readouterr().err)


def test_narrow_writes_a_tenant_with_a_line_feed_on_the_keys_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A tenant in a key's metadata (whoever made the key chose it) holding a line feed stays on the key's one line,
    so it cannot forge a line of its own (``narrowed KEY ..., secret unchanged``)."""
    from auditlog.commands import keys as command
    from auditlog.indexer.keys import Narrowed

    forged = "org\nnarrowed id2 (tenant org-2): tenant key, secret unchanged"
    hostile = Narrowed("id1", forged, "its role reads every tenant", "tenant")
    monkeypatch.setattr(command, "_with_client", lambda _args, work: work(None))
    monkeypatch.setattr(command.keys, "narrow_keys", lambda *_a: iter([hostile]))
    code = main(["keys", "narrow", "--es", UNREACHABLE])
    assert (1, ["not narrowed id1"]) == (code, [line[:16] for line in capsys.readouterr().out.splitlines()])
