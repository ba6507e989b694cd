"""``trax.core`` is pure Python: importing it, or the lazy ``trax`` package, loads no Django."""

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import trax
import trax.core

REPO_ROOT = Path(trax.__file__).resolve().parent.parent
CORE_DIR = Path(trax.core.__file__).resolve().parent

CORE_EXPORTS = sorted(name for name, module in trax._EXPORTS.items() if module == "trax.core")


def run_isolated(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter with Django unconfigured; return what it printed."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    environment["PYTHONPATH"] = str(REPO_ROOT)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


DJANGO_MODULES = "sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))"


def test_importing_trax_core_loads_no_django_module() -> None:
    result = run_isolated(
        f"""
        import json, sys
        import trax.core
        print(json.dumps({{"django": {DJANGO_MODULES}}}))
        """
    )
    assert result["django"] == []


def test_importing_trax_loads_no_django_module() -> None:
    result = run_isolated(
        f"""
        import json, sys
        import trax
        print(json.dumps({{"django": {DJANGO_MODULES}}}))
        """
    )
    assert result["django"] == []


def test_trax_train_resolves_lazily_to_the_engines_train_without_django() -> None:
    result = run_isolated(
        f"""
        import json, sys
        import trax
        loaded_before = "trax.core" in sys.modules
        import trax.core
        train_is_core = trax.Train is trax.core.Train
        print(json.dumps({{
            "core_loaded_before_access": loaded_before,
            "train_is_core": train_is_core,
            "django": {DJANGO_MODULES},
        }}))
        """
    )
    assert result == {"core_loaded_before_access": False, "train_is_core": True, "django": []}


def test_every_engine_name_trax_exports_resolves_without_django() -> None:
    result = run_isolated(
        f"""
        import json, sys
        import trax, trax.core
        names = {CORE_EXPORTS!r}
        same = {{name: getattr(trax, name) is getattr(trax.core, name) for name in names}}
        print(json.dumps({{"same": same, "django": {DJANGO_MODULES}}}))
        """
    )
    assert CORE_EXPORTS
    assert result["same"] == dict.fromkeys(CORE_EXPORTS, True)
    assert result["django"] == []


def test_an_unknown_trax_attribute_is_an_attribute_error() -> None:
    result = run_isolated(
        """
        import json
        import trax
        try:
            trax.NoSuchThing
        except AttributeError as error:
            outcome = str(error)
        else:
            outcome = None
        print(json.dumps({"error": outcome}))
        """
    )
    assert result["error"] == "module 'trax' has no attribute 'NoSuchThing'"


def _loads_django(module: str) -> bool:
    """Django itself, or a part of trax outside the engine (which may import Django)."""
    top = module.split(".")[0]
    outside_core = top == "trax" and module != "trax.core" and not module.startswith("trax.core.")
    return top == "django" or outside_core


def test_no_module_of_trax_core_imports_django_even_lazily() -> None:
    offenders: list[str] = []
    for path in sorted(CORE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offenders.extend(
                f"{path.name}:{node.lineno} imports {name}" for name in names if _loads_django(name)
            )
    assert offenders == []
