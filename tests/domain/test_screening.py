"""Goods screening against the prohibited-goods list (R-2.2)."""

import pytest

from domain.intake.screening import (
    ScreeningResult,
    Verdict,
    category_label,
    goods_list,
    parse_goods_list,
    screen,
    screen_all,
)


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Fireworks", "explosives"),
        ("firecrackers for new year", "explosives"),
        ("烟花爆竹", "explosives"),
        ("Zippo lighter", "flammables"),
        ("打火机", "flammables"),
        ("新款防风打火机 金属", "flammables"),
        ("gasoline 5L", "flammables"),
        ("Acrylic paint set", "flammables"),
        ("管制刀具", "controlled_knives"),
        ("Butterfly knife", "controlled_knives"),
        ("Switchblades", "controlled_knives"),
        ("户外匕首", "controlled_knives"),
        ("airsoft pistol", "weapons"),
        ("9mm ammunition", "weapons"),
        ("仿真枪", "weapons"),
        ("marijuana seeds", "narcotics"),
        ("冰毒", "narcotics"),
        ("compressed air duster", "compressed_gas"),
        ("fire extinguisher", "compressed_gas"),
        ("sulfuric acid 98%", "corrosives"),
        ("rat poison", "toxic"),
        ("农药", "toxic"),
        ("fake money for movies", "counterfeit_currency"),
        ("假币", "counterfeit_currency"),
        ("uranium ore sample", "radioactive"),
        ("live fish", "live_animals"),
        ("活体宠物龟", "live_animals"),
    ],
)
def test_prohibited_goods_are_blocked(name: str, category: str) -> None:
    result = screen(name)

    assert result.verdict is Verdict.BLOCKED
    assert result.category == category
    assert result.matched


@pytest.mark.parametrize(
    "name",
    [
        "lithium battery",
        "Lithium Batteries",
        "li-ion battery pack",
        "Li-Ion Battery Pack 5000mAh",
        "power bank",
        "Power Banks 20000mAh",
        "18650 cells",
        "锂电池",
        "锂电池充电宝",
        "小米移动电源",
        "电动滑板车",
        "Kitchen knives",
        "perfume 100ml",
        "vodka",
    ],
)
def test_restricted_goods_need_review(name: str) -> None:
    assert screen(name).verdict is Verdict.REVIEW


@pytest.mark.parametrize(
    "name",
    [
        "phone case",
        "battery case",
        "Battery Cases for iPhone 15",
        "battery cover",
        "电池盖",
        "太阳能电池板",
        "knife sharpener",
        "knife-shaped cookie cutter",
        "firework-print t-shirt",
        "hot glue gun",
        "massage gun",
        "筋膜枪",
        "paint brushes",
        "wine glasses",
        "wine red dress",
        "啤酒开瓶器",
        "batteryless remote control",
        "cotton T-shirt",
        "蓝牙耳机",
        "matching socks",
        "lighter weight jacket",
    ],
)
def test_innocent_look_alikes_pass(name: str) -> None:
    assert screen(name) == ScreeningResult(Verdict.OK)


def test_matching_ignores_case_and_full_width_letters() -> None:
    assert screen("FIREWORKS").verdict is Verdict.BLOCKED
    assert screen("ＬＩＴＨＩＵＭ battery").verdict is Verdict.REVIEW


def test_english_keywords_match_whole_words_only() -> None:
    # "gunny sack" contains "gun" and "rumble" contains "rum", but neither is that word.
    assert screen("gunny sack").verdict is Verdict.OK
    assert screen("rumble strip").verdict is Verdict.OK
    assert screen("gun").verdict is Verdict.BLOCKED


def test_decorative_word_does_not_hide_the_goods_themselves() -> None:
    # A gun-shaped lighter is still a lighter.
    result = screen("gun-shaped lighter")

    assert result.verdict is Verdict.BLOCKED
    assert result.category == "flammables"


def test_innocent_phrase_does_not_hide_a_later_real_match() -> None:
    assert screen("battery case with spare lithium battery").verdict is Verdict.REVIEW


def test_worst_verdict_wins_over_all_matches() -> None:
    name = "power bank and lighter gift set"
    categories = {r.category for r in screen_all(name)}

    assert categories == {"lithium_batteries", "flammables"}
    assert screen(name).verdict is Verdict.BLOCKED
    assert screen(name).category == "flammables"


def test_the_most_specific_keyword_is_reported() -> None:
    assert screen("lithium batteries").matched == "lithium battery"
    assert screen("锂电池充电宝").matched in {"锂电池", "充电宝"}


def test_chinese_keyword_found_inside_a_longer_name() -> None:
    result = screen("定制款锂电池充电宝20000毫安")

    assert result.verdict is Verdict.REVIEW
    assert result.category == "lithium_batteries"


def test_goods_list_data_file_is_well_formed() -> None:
    goods = goods_list()
    ids = [c.id for c in goods.categories]

    assert len(ids) == len(set(ids))
    for category in goods.categories:
        assert category.verdict in (Verdict.BLOCKED, Verdict.REVIEW)
        assert any(k.tokens for k in category.keywords), f"{category.id} has no English keyword"
        assert any(k.substring for k in category.keywords), f"{category.id} has no Chinese keyword"
    batteries, explosives = goods.category("lithium_batteries"), goods.category("explosives")
    assert batteries is not None and batteries.verdict is Verdict.REVIEW
    assert explosives is not None and explosives.verdict is Verdict.BLOCKED


def test_rules_work_on_a_list_given_as_data() -> None:
    goods = parse_goods_list(
        {
            "decorative": {"words": ["print"]},
            "category": [
                {
                    "id": "sharp",
                    "label_en": "sharp things",
                    "label_zh": "锐器",
                    "verdict": "review",
                    "en": ["axe"],
                    "zh": ["斧头"],
                    "innocent": ["axe handle", "斧头柄"],
                }
            ],
        }
    )

    assert screen("axes", goods).verdict is Verdict.REVIEW
    assert screen("axe handle", goods).verdict is Verdict.OK
    assert screen("axe print hoodie", goods).verdict is Verdict.OK
    assert screen("斧头柄", goods).verdict is Verdict.OK
    assert screen("小斧头", goods).verdict is Verdict.REVIEW
    assert screen("lighter", goods).verdict is Verdict.OK


def test_category_label_in_english_and_chinese() -> None:
    assert category_label("controlled_knives") == "controlled knives and bladed weapons"
    assert category_label("controlled_knives", "zh-hans") == "管制刀具"
    assert category_label("no_such_category") == "no_such_category"
