"""Telegram HTML parse mode: plain text, entities and the markup errors Telegram would reject."""

import pytest

from sandbox.telegram_html import TelegramHTMLError, html_to_text, parse_html


def test_plain_text_and_entities_come_out_of_valid_markup() -> None:
    parsed = parse_html(
        '<b>Order</b> <a href="https://example.com/o?a=1&amp;b=2">#42</a> &lt;ok&gt; &#128230;'
    )

    assert parsed.errors == []
    assert parsed.text == "Order #42 <ok> 📦"
    assert [e.to_dict() for e in parsed.entities] == [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "text_link", "offset": 6, "length": 3, "url": "https://example.com/o?a=1&b=2"},
    ]


def test_entity_offsets_count_utf16_code_units() -> None:
    parsed = parse_html("📦 <i>x</i>")

    assert parsed.entities[0].offset == 3


def test_pre_with_language_code_becomes_one_pre_entity() -> None:
    parsed = parse_html('<pre><code class="language-python">print(1)</code></pre>')

    assert [e.to_dict() for e in parsed.entities] == [
        {"type": "pre", "offset": 0, "length": 8, "language": "python"}
    ]


def test_spoiler_blockquote_and_emoji_tags_are_supported() -> None:
    source = (
        '<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler>'
        '<blockquote expandable>c</blockquote><tg-emoji emoji-id="5368324170671202286">d</tg-emoji>'
    )

    parsed = parse_html(source)

    assert parsed.errors == []
    assert [e.type for e in parsed.entities] == [
        "spoiler",
        "spoiler",
        "expandable_blockquote",
        "custom_emoji",
    ]


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("<b>x", 'start tag "b"'),
        ("<b><i>x</b></i>", "unmatched end tag"),
        ("x</b>", "unexpected end tag"),
        ("<script>alert(1)</script>", 'unsupported start tag "script"'),
        ("<br/>", "self-closing"),
        ("<span>x</span>", "tg-spoiler"),
        ("a & b", "bare '&'"),
        ("fish &amp chips", "bare '&'"),
        ("&nbsp;", "unsupported named entity"),
        ("1 < 2", "unescaped '<'"),
        ("<!-- note -->", "comments"),
    ],
)
def test_malformed_markup_is_reported(source: str, fragment: str) -> None:
    errors = parse_html(source).errors

    assert any(fragment in error for error in errors), errors


def test_html_to_text_raises_with_every_error() -> None:
    with pytest.raises(TelegramHTMLError) as caught:
        html_to_text("<u>a & b")

    assert len(caught.value.errors) == 2
