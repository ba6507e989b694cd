"""``manage.py check`` (and so every trax command at start) refuses a dotted path in settings
that does not import or is not the right kind, naming the setting and the value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trax.checks import check_dotted_paths

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("trax_settings", "words"),
    [
        ({"SUBMITTER": "myapp.nowhere.Submitter"}, "TRAX['SUBMITTER']: 'myapp.nowhere.Submitter'"),
        (
            {"SUBMITTER_ROUTES": {"demo.greet": "trax.conf.TraxSettings"}},
            "TRAX['SUBMITTER_ROUTES']['demo.greet']",
        ),
        ({"EFFECT_PROVIDERS": ["myapp.providers.Typo"]}, "does not import"),
        ({"LIFECYCLE_HOOKS": ["trax.conf.TraxSettings"]}, "is not a subclass of"),
    ],
)
def test_a_bad_dotted_path_is_an_error(
    settings: Any, trax_settings: dict[str, Any], words: str
) -> None:
    settings.TRAX = {**getattr(settings, "TRAX", {}), **trax_settings}

    errors = check_dotted_paths()

    assert [e.id for e in errors] == ["trax.E002"]
    assert words in errors[0].msg


def test_good_paths_pass() -> None:
    assert check_dotted_paths() == []


def test_the_scheduler_refuses_to_start_with_a_bad_submitter() -> None:
    result = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "trax_scheduler", "--no-workers"],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": "sqlite:///:memory:",
            "TRAX_SETTINGS_JSON": '{"SUBMITTER": "myapp.nowhere.Submitter"}',
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "trax.E002" in result.stderr and "myapp.nowhere.Submitter" in result.stderr
