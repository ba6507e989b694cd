"""The example project's settings fail closed: DEBUG off and SECRET_KEY required unless the
environment says otherwise; with production-like values `check --deploy` is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
STRONG_KEY = "x7$Hq!vN2@pLr9#Zt4&Wm8*Kc1^Yd6(Bf3)Gs5_Je0+Ua-Xo=Ei[Rn]Ql{Vh}Ty|Mb;Pw"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG"} and not k.startswith(("SECURE_", "SESSION_", "CSRF_"))
    }
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env={**base, "DATABASE_URL": "sqlite:///:memory:", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_secret_key_nothing_starts() -> None:
    result = manage("check")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_for() -> None:
    code = "from django.conf import settings; print(settings.DEBUG)"

    assert (
        manage("shell", "--no-imports", "-c", code, SECRET_KEY=STRONG_KEY).stdout.strip() == "False"
    )
    on = manage("shell", "--no-imports", "-c", code, SECRET_KEY=STRONG_KEY, DEBUG="True")
    assert on.stdout.strip() == "True"


def test_a_production_like_environment_passes_the_deploy_check() -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="trax.example.com",
        SECURE_SSL_REDIRECT="True",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="True",
        SECURE_HSTS_PRELOAD="True",
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_development_defaults_fail_the_deploy_check() -> None:
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=STRONG_KEY, DEBUG="True"
    )

    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr  # DEBUG on
