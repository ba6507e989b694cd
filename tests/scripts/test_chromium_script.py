"""scripts/chromium.sh installs Debian's chromium package with apt-get when the browser is missing
(updating the package lists only when the install fails without it), and says how to install it
when it cannot. apt-get and id are stand-ins here; nothing is installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "chromium.sh"

FAKE_CHROMIUM = "#!/bin/sh\necho 'Chromium 150.0.0.0 built on Debian GNU/Linux 13 (trixie)'\n"

# apt-get that records its calls; `install` fails until `update` ran when lists are missing.
FAKE_APT_GET = """#!/bin/sh
echo "$*" >> "$FAKE_DIR/apt-calls"
case "$1" in
update) touch "$FAKE_DIR/lists" ;;
install)
    if [ -n "$NEEDS_LISTS" ] && [ ! -e "$FAKE_DIR/lists" ]; then
        echo "E: Unable to locate package chromium" >&2
        exit 100
    fi
    printf '%s' "$FAKE_CHROMIUM_SCRIPT" > "$CHROMIUM"
    chmod +x "$CHROMIUM"
    ;;
esac
"""


def run(tmp_path: Path, *, uid: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in {"apt-get": FAKE_APT_GET, "id": f"#!/bin/sh\necho {uid}\n"}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_DIR": str(tmp_path),
        "FAKE_CHROMIUM_SCRIPT": FAKE_CHROMIUM,
        "CHROMIUM": str(tmp_path / "chromium"),
        **env,
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=30
    )


def apt_calls(tmp_path: Path) -> list[str]:
    calls = tmp_path / "apt-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_an_installed_chromium_is_left_alone(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text(FAKE_CHROMIUM)
    chromium.chmod(0o755)

    result = run(tmp_path, uid=1000)

    assert result.returncode == 0, result.stderr
    assert "Chromium 150.0.0.0" in result.stderr
    assert apt_calls(tmp_path) == []


def test_root_installs_the_package_without_updating_when_the_lists_are_there(
    tmp_path: Path,
) -> None:
    result = run(tmp_path)

    assert result.returncode == 0, result.stderr
    assert apt_calls(tmp_path) == [
        "install -y --no-install-recommends -o DPkg::Lock::Timeout=300 chromium"
    ]
    assert "Chromium 150.0.0.0" in result.stderr


def test_a_fresh_machine_updates_the_lists_when_the_install_fails(tmp_path: Path) -> None:
    result = run(tmp_path, NEEDS_LISTS="1")

    assert result.returncode == 0, result.stderr
    assert [call.split()[0] for call in apt_calls(tmp_path)] == ["install", "update", "install"]


def test_without_root_it_says_how_to_install(tmp_path: Path) -> None:
    result = run(tmp_path, uid=1000)

    assert result.returncode == 1
    assert "only root can install it" in result.stderr
    assert "apt-get install chromium" in result.stderr
    assert apt_calls(tmp_path) == []


def test_a_chromium_that_does_not_start_is_reported(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\nexit 127\n")
    chromium.chmod(0o755)

    result = run(tmp_path)

    assert result.returncode == 1
    assert "does not start" in result.stderr
