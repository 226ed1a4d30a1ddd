"""Unpacked peers: which dependencies apt installs, and how an unpacked syslog-ng is found and started."""

from __future__ import annotations

from pathlib import Path

from bench.debian_unpack import dependencies, main
from bench.shippers.syslog_ng import SyslogNg, find_syslog_ng

_LISTING = """syslog-ng-core
  Depends: libc6
  Depends: libivykis0
 |Depends: sysvinit-utils
  Depends: <system-log-daemon>
syslog-ng-mod-http
  Depends: libcurl4
  Depends: syslog-ng-core
  Depends: libc6
"""


def test_dependencies_are_the_plain_ones_once_without_the_packages_themselves() -> None:
    """Alternatives, virtual packages, repeats and the unpacked packages themselves are left to apt's defaults."""
    assert ["libc6", "libivykis0", "libcurl4"] == dependencies(_LISTING, ("syslog-ng-core", "syslog-ng-mod-http"))


def test_an_unknown_peer_is_refused_with_exit_2() -> None:
    """Only the peers the bench knows can be unpacked."""
    assert 2 == main(["not-a-peer"])


def test_unpacked_syslog_ng_runs_with_its_own_library_and_module_folders(tmp_path: Path) -> None:
    """The command starts with ``env LD_LIBRARY_PATH=<root>/usr/lib/syslog-ng`` and the module folder holding http."""
    (tmp_path / "usr" / "sbin").mkdir(parents=True)
    (tmp_path / "usr" / "sbin" / "syslog-ng").touch()
    modules = tmp_path / "usr" / "lib" / "syslog-ng" / "3.38"
    modules.mkdir(parents=True)
    (modules / "libhttp.so").touch()
    found = find_syslog_ng(tmp_path, which=lambda _: None)
    assert SyslogNg(tmp_path / "usr" / "sbin" / "syslog-ng", modules, tmp_path / "usr" / "lib" / "syslog-ng") == found
    assert ["env", f"LD_LIBRARY_PATH={tmp_path}/usr/lib/syslog-ng", f"{tmp_path}/usr/sbin/syslog-ng",
            f"--module-path={modules}"] == found.argv()


def test_without_program_or_http_module_the_reason_names_the_unpack_command(tmp_path: Path) -> None:
    """An empty root is no syslog-ng; the reason tells the user how to get one."""
    found = find_syslog_ng(tmp_path, which=lambda _: None)
    assert isinstance(found, str) and "python -m bench.debian_unpack syslog-ng" in found
