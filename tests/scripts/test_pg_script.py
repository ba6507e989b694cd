"""scripts/pg.sh finds the server binaries of whichever PostgreSQL major Debian installed (15 on
Debian 12, 17 on Debian 13), preferring the newest, and an explicit PG_BINDIR over both."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg.sh"


def fake_server(root: Path, major: str) -> Path:
    """A <root>/<major>/bin with executable initdb and pg_ctl stand-ins."""
    bindir = root / major / "bin"
    bindir.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        tool = bindir / name
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    return bindir


def bindir(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PG_BINDIR"}
    return subprocess.run(
        ["bash", str(SCRIPT), "bindir"],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("majors", "chosen"),
    [(["15"], "15"), (["17"], "17"), (["15", "17"], "17"), (["9.6", "13", "17", "16"], "17")],
)
def test_the_newest_installed_major_is_used(tmp_path: Path, majors: list[str], chosen: str) -> None:
    for major in majors:
        fake_server(tmp_path, major)

    result = bindir(PG_LIB_ROOT=str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / chosen / "bin")


def test_a_major_without_server_binaries_is_skipped(tmp_path: Path) -> None:
    fake_server(tmp_path, "15")
    (tmp_path / "17" / "bin").mkdir(parents=True)  # client only: no initdb

    assert bindir(PG_LIB_ROOT=str(tmp_path)).stdout.strip() == str(tmp_path / "15" / "bin")


def test_an_explicit_bindir_wins(tmp_path: Path) -> None:
    fake_server(tmp_path, "17")
    explicit = fake_server(tmp_path / "elsewhere", "15")

    result = bindir(PG_LIB_ROOT=str(tmp_path), PG_BINDIR=str(explicit))

    assert result.stdout.strip() == str(explicit)


def test_an_explicit_bindir_without_initdb_is_refused(tmp_path: Path) -> None:
    result = bindir(PG_BINDIR=str(tmp_path))

    assert result.returncode != 0
    assert f"PG_BINDIR={tmp_path} has no initdb" in result.stderr
