"""Telegram's HTML parse mode: turns a marked-up text into plain text plus message entities.

Follows https://core.telegram.org/bots/api#html-style. On one point it is stricter than Telegram on
purpose: a bare ``&`` that does not start one of the four supported named entities or a numeric
one is an error here (Telegram keeps it literally), because it nearly always means user input was
put into the markup without ``html.escape`` and the next ``<`` in that input would break the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

# Telegram tag name -> entity type; span, a, pre, blockquote, tg-emoji and tg-time are refined below.
TAG_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}

_AMPERSAND = re.compile(
    r"&(?:(?P<name>[A-Za-z][A-Za-z0-9]*);|#(?P<dec>[0-9]+);|#[xX](?P<hex>[0-9A-Fa-f]+);)?"
)


class TelegramHTMLError(ValueError):
    """Raised when a text is not valid Telegram HTML; ``errors`` holds every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("Can't parse entities: " + "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class MessageEntity:
    """One formatting entity; offset and length count UTF-16 code units, as in the Bot API."""

    type: str
    offset: int
    length: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Returns the entity as Bot API JSON."""
        return {"type": self.type, "offset": self.offset, "length": self.length, **self.extra}


@dataclass
class ParsedText:
    """Result of parsing: the text a user sees, its entities, and the markup errors found."""

    text: str
    entities: list[MessageEntity]
    errors: list[str]

    @property
    def ok(self) -> bool:
        """Tells whether the markup was valid."""
        return not self.errors


def utf16_length(text: str) -> int:
    """Returns the length of text in UTF-16 code units (the unit of entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def ampersand_errors(source: str) -> list[str]:
    """Lists every ``&`` that is not a supported entity (named lt/gt/amp/quot or numeric)."""
    errors = []
    for match in _AMPERSAND.finditer(source):
        name = match.group("name")
        if name is None and match.group("dec") is None and match.group("hex") is None:
            errors.append(f"bare '&' at character {match.start()} (escape it as &amp;)")
        elif name is not None and name not in NAMED_ENTITIES:
            errors.append(
                f"unsupported named entity '&{name};' at character {match.start()} "
                "(only &lt; &gt; &amp; &quot; and numeric entities are allowed)"
            )
        elif name is None:
            code = int(match.group("dec"), 10) if match.group("dec") else int(match.group("hex"), 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or code == 0:
                errors.append(f"invalid numeric entity '{match.group(0)}' at character {match.start()}")
    return errors


@dataclass
class _OpenTag:
    tag: str
    offset: int
    attrs: dict[str, str | None]


class _TelegramHTMLParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.chunks: list[str] = []
        self.length16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[MessageEntity] = []
        self.errors: list[str] = []

    def _append(self, text: str) -> None:
        self.chunks.append(text)
        self.length16 += utf16_length(text)

    def _where(self) -> str:
        line, column = self.getpos()
        return f"line {line}, column {column + 1}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in TAG_ENTITY_TYPES:
            self.errors.append(f'unsupported start tag "{tag}" at {self._where()}')
        elif tag == "span" and attributes.get("class") != "tg-spoiler":
            self.errors.append(f'tag "span" must have class "tg-spoiler" at {self._where()}')
        elif tag == "tg-emoji" and not attributes.get("emoji-id"):
            self.errors.append(f'tag "tg-emoji" must have attribute "emoji-id" at {self._where()}')
        elif tag == "tg-time" and not (attributes.get("unix") or "").lstrip("-").isdigit():
            self.errors.append(f'tag "tg-time" must have a numeric attribute "unix" at {self._where()}')
        self.stack.append(_OpenTag(tag, self.length16, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f'self-closing tag "<{tag}/>" at {self._where()} is not supported')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self.errors.append(f'unexpected end tag "</{tag}>" at {self._where()}')
            return
        if self.stack[-1].tag != tag:
            if all(open_tag.tag != tag for open_tag in self.stack):
                self.errors.append(f'unexpected end tag "</{tag}>" at {self._where()}')
                return
            self.errors.append(
                f'unmatched end tag at {self._where()}: expected "</{self.stack[-1].tag}>", found "</{tag}>"'
            )
            while self.stack[-1].tag != tag:
                self.stack.pop()
        self._close(self.stack.pop())

    def _close(self, open_tag: _OpenTag) -> None:
        entity_type = TAG_ENTITY_TYPES.get(open_tag.tag)
        length = self.length16 - open_tag.offset
        if entity_type is None or length == 0:
            return
        extra: dict[str, Any] = {}
        attrs = open_tag.attrs
        if open_tag.tag == "a":
            url = attrs.get("href") or ""
            if not url:
                return
            user_id = re.fullmatch(r"tg://user\?id=(\d+)", url)
            if user_id:
                entity_type, extra = "text_mention", {"user": {"id": int(user_id.group(1))}}
            else:
                extra = {"url": url}
        elif open_tag.tag == "pre":
            span = (open_tag.offset, length)
            inner = next(
                (e for e in self.entities if e.type == "code" and (e.offset, e.length) == span), None
            )
            language = (inner.extra.get("language") if inner else None) or ""
            if inner is not None:
                self.entities.remove(inner)
            if language:
                extra = {"language": language}
        elif open_tag.tag == "code":
            css_class = attrs.get("class") or ""
            if css_class.startswith("language-"):
                extra = {"language": css_class.removeprefix("language-")}
        elif open_tag.tag == "blockquote" and "expandable" in attrs:
            entity_type = "expandable_blockquote"
        elif open_tag.tag == "tg-emoji":
            extra = {"custom_emoji_id": attrs.get("emoji-id") or ""}
        elif open_tag.tag == "tg-time":
            extra = {"unix_time": int(attrs.get("unix") or 0)}
            if attrs.get("format"):
                extra["date_time_format"] = attrs["format"]
        self.entities.append(MessageEntity(entity_type, open_tag.offset, length, extra))

    def handle_data(self, data: str) -> None:
        if "<" in data:
            self.errors.append(f"unescaped '<' at {self._where()} (escape it as &lt;)")
        self._append(data)

    def handle_entityref(self, name: str) -> None:
        # ampersand_errors() already reported unsupported names; keep the text readable anyway.
        self._append(NAMED_ENTITIES.get(name, f"&{name};"))

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            self._append(chr(code))
        except (ValueError, OverflowError):
            self._append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.errors.append(f"HTML comments are not supported (at {self._where()})")

    def handle_decl(self, decl: str) -> None:
        self.errors.append(f"declarations are not supported (at {self._where()})")

    def unknown_decl(self, data: str) -> None:
        self.errors.append(f"declarations are not supported (at {self._where()})")

    def handle_pi(self, data: str) -> None:
        self.errors.append(f"processing instructions are not supported (at {self._where()})")


def parse_html(source: str) -> ParsedText:
    """Parses Telegram HTML into plain text and entities, collecting every markup error."""
    parser = _TelegramHTMLParser()
    parser.feed(source)
    parser.close()
    errors = ampersand_errors(source) + parser.errors
    for open_tag in reversed(parser.stack):
        errors.append(f'can\'t find end tag corresponding to start tag "{open_tag.tag}"')
        parser._close(open_tag)
    entities = sorted(parser.entities, key=lambda e: (e.offset, -e.length))
    return ParsedText("".join(parser.chunks), entities, errors)


def html_to_text(source: str) -> str:
    """Returns the plain text of valid Telegram HTML; raises TelegramHTMLError otherwise."""
    parsed = parse_html(source)
    if parsed.errors:
        raise TelegramHTMLError(parsed.errors)
    return parsed.text
