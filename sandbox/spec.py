"""Checks Bot API requests against the machine-readable Bot API specification (api.json)."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox.telegram_html import parse_html

SPEC_ENV_VAR = "TELEGRAM_API_SPEC"
_PACKAGE_DIR = Path(__file__).resolve().parent
SHARED_SPEC_PATH = _PACKAGE_DIR.parent.parent / "shared" / "telegram-bot-api-spec" / "api.json"
VENDORED_SPEC_PATH = _PACKAGE_DIR / "api.json"

# Limits that matter most, kept by hand in case the description wording changes (see the spec README).
FIELD_LIMITS: dict[tuple[str, str], tuple[int, int, str]] = {
    ("sendMessage", "text"): (1, 4096, "characters"),
    ("editMessageText", "text"): (1, 4096, "characters"),
    ("answerCallbackQuery", "text"): (0, 200, "characters"),
    ("InlineKeyboardButton", "callback_data"): (1, 64, "bytes"),
    ("BotCommand", "command"): (1, 32, "characters"),
    ("BotCommand", "description"): (1, 256, "characters"),
}
CAPTION_LIMIT = (0, 1024, "characters")
# Fields of an inline keyboard button that are not its action (see InlineKeyboardButton's description).
BUTTON_DECORATION_FIELDS = frozenset({"text", "icon_custom_emoji_id", "style"})
_LIMIT_IN_DESCRIPTION = re.compile(r"(\d+)-(\d+) (characters|bytes)")
_SUBTYPE_TAG = re.compile(r"must be[ \"“]*([\w-]+)")
_BOT_COMMAND = re.compile(r"[a-z0-9_]+")
_INTEGER_TEXT = re.compile(r"-?\d+")
_FLOAT_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_SCALARS = frozenset({"Integer", "String", "Boolean", "Float", "True", "InputFile"})


def default_spec_path() -> Path:
    """Returns the spec file to use: $TELEGRAM_API_SPEC, else the shared copy, else the vendored one."""
    if configured := os.environ.get(SPEC_ENV_VAR):
        return Path(configured)
    if SHARED_SPEC_PATH.is_file():
        return SHARED_SPEC_PATH
    return VENDORED_SPEC_PATH


def is_uploaded_file(value: Any) -> bool:
    """Tells whether a value is file content (bytes, a form file part, an aiogram InputFile...)."""
    return not isinstance(value, str | int | float | bool | dict | list | tuple) and value is not None


class BotApiSpec:
    """The Bot API methods and types, able to list what is wrong with a request."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.version: str = data.get("version", "unknown")
        self.methods: Mapping[str, Any] = data["methods"]
        self.types: Mapping[str, Any] = data["types"]
        self._methods_by_lower_name = {name.lower(): name for name in self.methods}

    @classmethod
    def load(cls, path: Path | str | None = None) -> BotApiSpec:
        """Loads the spec from path, or from default_spec_path() (parsed once per file)."""
        return _load_cached(str(Path(path) if path is not None else default_spec_path()))

    def canonical_method(self, method: str) -> str | None:
        """Returns the spec's spelling of a method name matched case-insensitively, like Telegram does."""
        return self._methods_by_lower_name.get(method.lower())

    def check(
        self, method: str, params: Mapping[str, Any], files: Mapping[str, Any] | None = None
    ) -> list[str]:
        """Lists the violations of one request: params as sent, files as the uploaded multipart parts."""
        name = self.canonical_method(method)
        if name is None:
            return [f"{method}: unknown method"]
        files = dict(files or {})
        params = {key: value for key, value in params.items() if value is not None}
        fields = {f["name"]: f for f in self.methods[name].get("fields", [])}
        for part in list(files):
            if part in fields and part not in params:
                params[part] = files.pop(part)
        missing, unknown = f"{name}: missing required field '{{}}'", f"{name}: unknown field '{{}}'"
        violations = self._check_fields(name, name, fields, params, missing, unknown)
        violations += _check_attachments(name, params, files)
        return violations

    def _check_fields(
        self,
        where: str,
        owner: str,
        fields: Mapping[str, Mapping[str, Any]],
        present: Mapping[str, Any],
        missing: str,
        unknown: str,
    ) -> list[str]:
        """Checks the present values against the spec's fields: every required one there, none unknown."""
        problems = [
            missing.format(field_name)
            for field_name, spec_field in fields.items()
            if spec_field["required"] and field_name not in present
        ]
        for field_name, value in present.items():
            spec_field = fields.get(field_name)
            if spec_field is None:
                problems.append(unknown.format(field_name))
                continue
            problems += self._check_value(f"{where}.{field_name}", owner, spec_field, value, present)
        return problems

    def _check_value(
        self, where: str, owner: str, spec_field: Mapping[str, Any], value: Any, siblings: Mapping[str, Any]
    ) -> list[str]:
        """Checks one field value of owner (a method or a type); where names it in messages."""
        field_name = spec_field["name"]
        problems = self._check_types(where, spec_field["types"], value)
        if problems:
            return problems
        if isinstance(value, str):
            problems += self._check_text(where, owner, spec_field, value, siblings)
        if field_name == "command" and owner == "BotCommand" and isinstance(value, str):
            if value and not _BOT_COMMAND.fullmatch(value):
                problems.append(f"{where}: only lowercase English letters, digits and underscores allowed")
        return problems

    def _check_text(
        self, where: str, owner: str, spec_field: Mapping[str, Any], value: str, siblings: Mapping[str, Any]
    ) -> list[str]:
        """Checks the HTML markup and the length limit of a text field (Markdown is measured raw)."""
        field_name = spec_field["name"]
        limit = FIELD_LIMITS.get((owner, field_name))
        if limit is None and field_name == "caption":
            limit = CAPTION_LIMIT
        if limit is None and (match := _LIMIT_IN_DESCRIPTION.search(spec_field.get("description", ""))):
            limit = (int(match.group(1)), int(match.group(2)), match.group(3))
        is_html = (_parse_mode_for(field_name, siblings) or "").upper() == "HTML"
        text = value
        problems: list[str] = []
        if is_html:
            parsed = parse_html(value)
            problems += [f"{where}: can't parse entities: {error}" for error in parsed.errors]
            text = parsed.text
        if limit is None:
            return problems
        low, high, unit = limit
        size = len(text.encode()) if unit == "bytes" else len(text)
        shown = "after entity parsing " if is_html else ""
        if field_name == "text" and low >= 1 and not text.strip():
            problems.append(f"{where}: text is empty {shown}(must be {low}-{high} {unit})")
        elif not low <= size <= high:
            problems.append(f"{where}: {size} {unit} {shown}(must be {low}-{high} {unit})")
        return problems

    def _check_types(self, where: str, declared: list[str], value: Any) -> list[str]:
        """Checks value against the alternatives in declared; reports the closest alternative's problems."""
        best: list[str] | None = None
        for type_name in declared:
            problems = self._check_type(where, type_name, value)
            if not problems:
                return []
            if best is None or len(problems) < len(best):
                best = problems
        mismatch_only = best is not None and len(best) == 1 and best[0].startswith(f"{where}: expected ")
        if len(declared) > 1 and mismatch_only:
            return [f"{where}: expected {' or '.join(declared)}, got {_describe(value)}"]
        return best or []

    def _check_type(self, where: str, type_name: str, value: Any) -> list[str]:
        if type_name.startswith("Array of "):
            decoded = _decode_json(value, list)
            if not isinstance(decoded, list):
                return [f"{where}: expected {type_name}, got {_describe(value)}"]
            item_type = type_name.removeprefix("Array of ")
            problems: list[str] = []
            for index, item in enumerate(decoded):
                problems += self._check_type(f"{where}[{index}]", item_type, item)
            return problems
        if type_name in _SCALARS:
            return (
                []
                if _scalar_matches(type_name, value)
                else [f"{where}: expected {type_name}, got {_describe(value)}"]
            )
        spec_type = self.types.get(type_name)
        if spec_type is None:
            return [f"{where}: the spec has no type {type_name}"]
        decoded = _decode_json(value, dict)
        if not isinstance(decoded, dict):
            return [f"{where}: expected {type_name}, got {_describe(value)}"]
        if subtypes := spec_type.get("subtypes"):
            return self._check_subtypes(where, subtypes, decoded)
        return self._check_object(where, type_name, spec_type, decoded)

    def _check_subtypes(self, where: str, subtypes: list[str], value: dict[str, Any]) -> list[str]:
        tag = value.get("type")
        if isinstance(tag, str):
            for subtype in subtypes:
                fields = self.types[subtype].get("fields", [])
                type_field = next((f for f in fields if f["name"] == "type"), None)
                match = _SUBTYPE_TAG.search(type_field["description"]) if type_field else None
                if match and match.group(1) == tag:
                    return self._check_type(where, subtype, value)
        return self._check_types(where, subtypes, value)

    def _check_object(
        self, where: str, type_name: str, spec_type: Mapping[str, Any], value: dict[str, Any]
    ) -> list[str]:
        fields = {f["name"]: f for f in spec_type.get("fields", [])}
        present = {key: item for key, item in value.items() if item is not None}
        problems = self._check_fields(
            where,
            type_name,
            fields,
            present,
            f"{where}: {type_name} is missing required field '{{}}'",
            f"{where}: {type_name} has unknown field '{{}}'",
        )
        if type_name == "InlineKeyboardButton":
            actions = sorted(set(present) - BUTTON_DECORATION_FIELDS)
            if len(actions) != 1:
                problems.append(
                    f"{where}: an inline keyboard button needs exactly one action field, "
                    f"has {actions or 'none'}"
                )
        return problems


@functools.cache
def _load_cached(path: str) -> BotApiSpec:
    with open(path, encoding="utf-8") as spec_file:
        return BotApiSpec(json.load(spec_file))


def _parse_mode_for(field_name: str, siblings: Mapping[str, Any]) -> str | None:
    """Returns the parse mode that applies to a text field, if its owner sent one."""
    for key in (f"{field_name}_parse_mode", "parse_mode" if field_name in ("text", "caption") else ""):
        mode = siblings.get(key) if key else None
        if isinstance(mode, str) and mode:
            return mode
    return None


def _check_attachments(method: str, params: Mapping[str, Any], files: Mapping[str, Any]) -> list[str]:
    """Checks that attach://name references and uploaded parts match one to one."""
    referenced = set(re.findall(r"attach://([\w.-]+)", json.dumps(params, default=lambda _: None)))
    uploaded = set(files)
    problems = [
        f"{method}: 'attach://{name}' refers to no uploaded file" for name in sorted(referenced - uploaded)
    ]
    problems += [
        f"{method}: uploaded file part '{name}' is not used" for name in sorted(uploaded - referenced)
    ]
    return problems


def _decode_json(value: Any, expected: type) -> Any:
    """Decodes a JSON-encoded form value (aiogram sends nested objects as JSON strings)."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, expected) else value
    if isinstance(value, tuple):
        return list(value)
    return value


def _scalar_matches(type_name: str, value: Any) -> bool:
    """Tells whether a scalar is acceptable; numeric and boolean strings are, as Telegram reads them."""
    if type_name == "InputFile":
        return is_uploaded_file(value) or (isinstance(value, str) and value.startswith("attach://"))
    if type_name == "String":
        return isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))
    if type_name == "Integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_INTEGER_TEXT.fullmatch(value.strip()))
        )
    if type_name == "Float":
        return (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_FLOAT_TEXT.fullmatch(value.strip()))
        )
    if type_name == "Boolean":
        return isinstance(value, bool) or value in ("true", "false", "True", "False", "1", "0")
    if type_name == "True":
        return value is True or value in ("true", "True", "1")
    return False


def _describe(value: Any) -> str:
    if is_uploaded_file(value):
        return "a file"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
