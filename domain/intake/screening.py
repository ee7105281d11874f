"""Screens goods names against the company's prohibited-goods list (R-2.2).

The list is data (domain/data/prohibited_goods.toml); its header explains the matching rules.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any


class Verdict(StrEnum):
    """What screening says about a goods name, from best to worst."""

    OK = "ok"
    REVIEW = "review"
    BLOCKED = "blocked"

    @property
    def severity(self) -> int:
        """Orders verdicts so the worst one wins."""
        return _SEVERITY[self]


_SEVERITY = {Verdict.OK: 0, Verdict.REVIEW: 1, Verdict.BLOCKED: 2}


@dataclass(frozen=True)
class ScreeningResult:
    """The verdict for one goods name, with the category and keyword that decided it."""

    verdict: Verdict
    category: str | None = None
    matched: str | None = None


@dataclass(frozen=True)
class _Phrase:
    """One keyword or innocent phrase, prepared for matching."""

    text: str
    tokens: tuple[str, ...] | None
    substring: str | None


@dataclass(frozen=True)
class Category:
    """One category of the prohibited-goods list."""

    id: str
    label_en: str
    label_zh: str
    verdict: Verdict
    keywords: tuple[_Phrase, ...]
    innocent: tuple[_Phrase, ...]


@dataclass(frozen=True)
class GoodsList:
    """The whole prohibited-goods list."""

    categories: tuple[Category, ...]
    decorative: frozenset[str]

    def category(self, category_id: str) -> Category | None:
        """Finds a category by its id."""
        return next((c for c in self.categories if c.id == category_id), None)


_TOKEN = re.compile(r"[0-9a-z\u00c0-\u024f]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _normalize(text: str) -> str:
    """Folds width and case so 'ＬＩＴＨＩＵＭ' and 'Lithium' compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def _tokens(text: str) -> list[str]:
    """Splits normalized text into Latin words and numbers; CJK and punctuation separate them."""
    return _TOKEN.findall(text)


def _plurals(word: str) -> frozenset[str]:
    """Returns the word with its English plural forms (battery/batteries, knife/knives)."""
    forms = {word, word + "s", word + "es"}
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        forms.add(word[:-1] + "ies")
    if word.endswith("fe"):
        forms.add(word[:-2] + "ves")
    elif word.endswith("f"):
        forms.add(word[:-1] + "ves")
    return frozenset(forms)


def _phrase(text: str) -> _Phrase:
    """Prepares a phrase: CJK phrases match as substrings, others as whole words."""
    normalized = _normalize(text)
    if _CJK.search(normalized):
        return _Phrase(text, None, normalized)
    tokens = tuple(_tokens(normalized))
    if not tokens:
        raise ValueError(f"phrase {text!r} has no words to match")
    return _Phrase(text, tokens, None)


def _word_spans(phrase: _Phrase, tokens: list[str]) -> list[range]:
    """Finds where a word phrase occurs in the tokens, its last word in any plural form."""
    assert phrase.tokens is not None
    *head, last = phrase.tokens
    last_forms = _plurals(last)
    size = len(phrase.tokens)
    return [
        range(start, start + size)
        for start in range(len(tokens) - size + 1)
        if list(tokens[start : start + size - 1]) == head and tokens[start + size - 1] in last_forms
    ]


def parse_goods_list(data: dict[str, Any]) -> GoodsList:
    """Builds the goods list from the parsed TOML document."""
    categories = []
    for raw in data["category"]:
        keywords = [*raw.get("en", []), *raw.get("zh", [])]
        categories.append(
            Category(
                id=raw["id"],
                label_en=raw["label_en"],
                label_zh=raw["label_zh"],
                verdict=Verdict(raw["verdict"]),
                # Longest first, so the most specific keyword is the one reported.
                keywords=tuple(sorted((_phrase(k) for k in keywords), key=lambda p: -len(p.text))),
                # Longest first, so "啤酒开瓶器" is removed whole before "开瓶器" splits it.
                innocent=tuple(
                    sorted((_phrase(p) for p in raw.get("innocent", [])), key=lambda p: -len(p.text))
                ),
            )
        )
    decorative = frozenset(_normalize(w) for w in data.get("decorative", {}).get("words", []))
    return GoodsList(tuple(categories), decorative)


@cache
def goods_list() -> GoodsList:
    """Loads the company's prohibited-goods list shipped with the package."""
    text = resources.files("domain.data").joinpath("prohibited_goods.toml").read_text(encoding="utf-8")
    return parse_goods_list(tomllib.loads(text))


def _category_match(
    category: Category, text: str, tokens: list[str], decorative: frozenset[str]
) -> str | None:
    """Returns the first keyword of the category found in the name, innocent phrases excepted."""
    masked: set[int] = set()
    for phrase in category.innocent:
        if phrase.substring is not None:
            text = text.replace(phrase.substring, " ")
        else:
            for span in _word_spans(phrase, tokens):
                masked.update(span)
    for keyword in category.keywords:
        if keyword.substring is not None:
            if keyword.substring in text:
                return keyword.text
            continue
        for span in _word_spans(keyword, tokens):
            if masked.intersection(span):
                continue
            if span.stop < len(tokens) and tokens[span.stop] in decorative:
                continue
            return keyword.text
    return None


def phrases(words: Iterable[str]) -> tuple[_Phrase, ...]:
    """Prepares keywords for first_match, longest first so the most specific one is reported."""
    return tuple(sorted((_phrase(word) for word in words), key=lambda p: -len(p.text)))


def first_match(name: str, keywords: Iterable[_Phrase]) -> str | None:
    """Returns the first keyword found in a goods name (whole words; CJK as substrings), or None."""
    text = _normalize(name)
    tokens = _tokens(text)
    for keyword in keywords:
        if keyword.substring is not None and keyword.substring in text:
            return keyword.text
        if keyword.tokens is not None and _word_spans(keyword, tokens):
            return keyword.text
    return None


def screen_all(name: str, goods: GoodsList | None = None) -> list[ScreeningResult]:
    """Lists every category the goods name matches, in list order."""
    goods = goods or goods_list()
    text = _normalize(name)
    tokens = _tokens(text)
    results = []
    for category in goods.categories:
        matched = _category_match(category, text, tokens, goods.decorative)
        if matched is not None:
            results.append(ScreeningResult(category.verdict, category.id, matched))
    return results


def screen(name: str, goods: GoodsList | None = None) -> ScreeningResult:
    """Screens one goods name; the worst verdict over all matching categories wins."""
    worst = ScreeningResult(Verdict.OK)
    for result in screen_all(name, goods):
        if result.verdict.severity > worst.verdict.severity:
            worst = result
    return worst


def category_label(category_id: str, language: str = "en") -> str:
    """Names a category for people, in English or Chinese; unknown ids are returned as they are."""
    category = goods_list().category(category_id)
    if category is None:
        return category_id
    return category.label_zh if language.startswith("zh") else category.label_en
