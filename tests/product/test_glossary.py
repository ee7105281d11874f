"""Both catalogs follow locales/GLOSSARY.md (issue 18): one word per thing, full-width punctuation."""

from __future__ import annotations

import re

import pytest

from bot.i18n import LOCALES_DIR
from tests.bot.test_i18n import catalog_messages

GLOSSARY = (LOCALES_DIR / "GLOSSARY.md").read_text(encoding="utf-8")
# The glossary's "not" column: words no Chinese message may use.
AVOIDED = [
    word.strip()
    for row in re.findall(r"^\|[^|]+\|[^|]+\|([^|]*)\|$", GLOSSARY, re.M)
    for word in row.split("、")
    if word.strip() and word.strip() not in {"not", "---"}
]


def test_the_glossary_lists_words_to_avoid() -> None:
    assert {"报关代理", "订舱与报关", "逾期"} <= set(AVOIDED)


@pytest.mark.parametrize("word", AVOIDED)
def test_no_chinese_message_uses_a_word_the_glossary_avoids(word: str) -> None:
    using = [msgid for msgid, text in catalog_messages("zh").items() if word in text]
    # 清关 and 报关 are each right in their own place: only the compound terms are checked for them.
    if word in {"清关", "报关"}:
        return
    assert using == []


def test_chinese_messages_use_full_width_colons() -> None:
    ascii_colons = [
        text for text in catalog_messages("zh").values() if re.search(r"[\u4e00-\u9fff]\s?:", text)
    ]

    assert ascii_colons == []


def test_customs_agency_and_declaration_are_worded_as_the_glossary_says() -> None:
    chinese = catalog_messages("zh")

    assert chinese["International air freight + customs agency"] == "国际空运 + 清关代理"
    assert chinese["booking and customs declaration"] == "订舱及报关"
