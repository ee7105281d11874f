"""Country names the customer may type (Chinese names and common aliases), beside pycountry's English ones."""

from __future__ import annotations

# Chinese names of the main destinations; the first name of each is the one shown.
CHINESE_NAMES: dict[str, tuple[str, ...]] = {
    "CN": ("中国", "中华人民共和国", "中国大陆"),
    "US": ("美国", "美利坚合众国"),
    "DE": ("德国",),
    "GB": ("英国", "大不列颠", "联合王国"),
    "JP": ("日本",),
    "FR": ("法国",),
    "BR": ("巴西",),
    "AE": ("阿联酋", "阿拉伯联合酋长国"),
    "CA": ("加拿大",),
    "AU": ("澳大利亚", "澳洲"),
    "SG": ("新加坡",),
    "KR": ("韩国", "南韩", "大韩民国"),
    "IT": ("意大利",),
    "ES": ("西班牙",),
    "NL": ("荷兰",),
    "MX": ("墨西哥",),
    "RU": ("俄罗斯", "俄国"),
    "IN": ("印度",),
    "TH": ("泰国",),
    "MY": ("马来西亚",),
    "VN": ("越南",),
    "ID": ("印度尼西亚", "印尼"),
    "PH": ("菲律宾",),
    "HK": ("中国香港", "香港"),
    "MO": ("中国澳门", "澳门"),
    "TW": ("中国台湾", "台湾"),
    "NZ": ("新西兰",),
    "SA": ("沙特阿拉伯", "沙特"),
    "TR": ("土耳其",),
    "PL": ("波兰",),
    "BE": ("比利时",),
    "CH": ("瑞士",),
    "AT": ("奥地利",),
    "SE": ("瑞典",),
    "IE": ("爱尔兰",),
    "PT": ("葡萄牙",),
    "IL": ("以色列",),
    "ZA": ("南非",),
}


_BY_CHINESE_NAME = {name: code for code, names in CHINESE_NAMES.items() for name in names}


# Everyday names pycountry does not know.
_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "england": "GB",
    "britain": "GB",
    "great britain": "GB",
    "america": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "uae": "AE",
    "emirates": "AE",
    "holland": "NL",
    "russia": "RU",
    "turkey": "TR",
    "brasil": "BR",
    "deutschland": "DE",
}
