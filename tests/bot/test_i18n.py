"""The catalogs are complete and consistent, and the language is chosen as specified."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, create_i18n, language_from_telegram

ROOT = Path(__file__).resolve().parents[2]
SCANNED_PACKAGES = ("handlers", "presentation", "api", "bot", "scheduler", "application", "domain")
# Call names that mark a message for translation.
MARKERS = frozenset({"_", "__", "N_", "gettext", "lazy_gettext"})


def msgids_in_code() -> set[str]:
    """Collects the literal first argument of every translation-marker call in the scanned packages."""
    found: set[str] = set()
    for package in SCANNED_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else None
                first = node.args[0]
                if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
    return found


def catalog_messages(locale: str) -> dict[str, str]:
    """Returns every message of one locale, merged over its feature catalogs (`*.po`)."""
    found: dict[str, str] = {}
    for po_path in sorted((LOCALES_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        for message in catalog:
            if message.id:
                assert not message.fuzzy, f"{po_path.name}: fuzzy translation for {message.id!r}"
                found[str(message.id)] = str(message.string)
    return found


def placeholders(text: str) -> set[str]:
    """Returns the {names} a str.format template uses."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_the_scanner_finds_the_known_messages() -> None:
    assert {"Help", "Choose your language:", "Show the main menu"} <= msgids_in_code()


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_every_message_in_code_is_in_each_catalog_and_nothing_else(locale: str) -> None:
    assert set(catalog_messages(locale)) == msgids_in_code()


def test_every_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    chinese = catalog_messages("zh")

    for msgid in msgids_in_code():
        assert chinese.get(msgid), f"no Chinese translation for {msgid!r}"
        assert placeholders(chinese[msgid]) == placeholders(msgid), msgid


def test_feature_catalogs_are_merged(tmp_path: Path) -> None:
    for name, text in (("messages", "Help"), ("review", "Approve")):
        folder = tmp_path / "zh" / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        translated = {"Help": "帮助", "Approve": "通过"}[text]
        (folder / f"{name}.po").write_text(f'msgid "{text}"\nmsgstr "{translated}"\n', encoding="utf-8")

    i18n = create_i18n("zh", path=tmp_path)

    assert i18n.gettext("Help", locale="zh") == "帮助"
    assert i18n.gettext("Approve", locale="zh") == "通过"


def test_conflicting_translations_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "a.po").write_text('msgid "Help"\nmsgstr "帮助"\n', encoding="utf-8")
    (folder / "b.po").write_text('msgid "Help"\nmsgstr "救命"\n', encoding="utf-8")

    with pytest.raises(ValueError, match="translated differently"):
        create_i18n("zh", path=tmp_path)


def test_catalogs_are_compiled_in_memory_without_mo_files() -> None:
    i18n = create_i18n("en")

    assert set(i18n.available_locales) == {"en", "zh"}
    assert i18n.gettext("Help", locale="zh") == "帮助"
    assert i18n.gettext("Help", locale="en") == "Help"
    assert list(LOCALES_DIR.rglob("*.mo")) == []


@pytest.mark.parametrize(
    ("language_code", "expected"),
    [
        ("zh", "zh"),
        ("zh-hans", "zh"),
        ("zh-TW", "zh"),
        ("en", "en"),
        ("en-GB", "en"),
        ("ru", "en"),
        (None, "zh"),
    ],
)
def test_telegram_language_maps_to_ours(language_code: str | None, expected: str) -> None:
    assert language_from_telegram(language_code, default="zh") == expected
