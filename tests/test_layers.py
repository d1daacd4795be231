"""The import-linter contracts in pyproject.toml hold, and they do catch a crossing.

Each breaking case copies the packages to a temporary tree, adds one
forbidden import there and runs ``lint-imports`` against the copy, so the
test shows the check fails for the reason the contract names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages at ``tree`` (a copy, not the installed ones)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_tree(destination: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("services", "shared"):
        shutil.copytree(ROOT / package, destination / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def test_the_real_tree_keeps_every_layer_contract() -> None:
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "forbidden_import", "broken"),
    [
        (
            "services/api/health.py",
            "import services.worker.relay",
            "services.api is not allowed to import services.worker",
        ),
        (
            "services/worker/relay.py",
            "import services.api.http",
            "services.worker is not allowed to import services.api",
        ),
        (
            "shared/events.py",
            "import services.worker.actors",
            "shared is not allowed to import services",
        ),
        (
            "shared/validation.py",
            "import fastapi",
            "shared is not allowed to import fastapi",
        ),
        (
            "shared/errors.py",
            "import starlette.responses",
            "shared is not allowed to import starlette",
        ),
        (
            "shared/rollups/rules.py",
            "import dramatiq",
            "shared is not allowed to import dramatiq",
        ),
        (
            "services/demo.py",
            "import services.api.app",
            "services.demo is not allowed to import services.api",
        ),
    ],
    ids=[
        "api-imports-worker",
        "worker-imports-api",
        "shared-imports-services",
        "shared-fastapi",
        "shared-starlette",
        "shared-dramatiq",
        "demo-imports-api",
    ],
)
def test_a_forbidden_import_makes_the_check_fail(
    tmp_path: Path, module: str, forbidden_import: str, broken: str
) -> None:
    tree = copy_of_the_tree(tmp_path)
    target = tree / module
    target.write_text(target.read_text() + f"\n{forbidden_import}  # noqa\n")

    result = lint_imports(tree)

    assert result.returncode != 0
    assert broken in result.stdout
