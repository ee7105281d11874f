"""The preview's lines for what the customer asks beyond the basics: a line's fragile mark, SKU, HS
code and size; shipping as a business, special requests, the delivery date, special services, and
goods whose clearance may take longer (told before the customer confirms, R-4.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.utils.i18n import gettext as _

from domain.intake.clearance import goods_category_label, special_goods
from domain.intake.special_services import special_services
from domain.orders.special import RequestKind, SpecialService
from presentation.intake_details import REQUEST_NAMES, SPECIAL_SERVICE_NAMES
from presentation.render import esc


def item_extras_text(item: Mapping[str, Any]) -> str:
    """A goods line's extras for the preview, e.g. ' · fragile · SKU TEA-01' ('' when none)."""
    parts = []
    if item.get("fragile"):
        parts.append(_("fragile"))
    if item.get("sku"):
        parts.append(_("SKU {sku}").format(sku=esc(item["sku"])))
    if item.get("hs_code"):
        parts.append(_("HS {code}").format(code=esc(item["hs_code"])))
    if item.get("length_cm"):
        size = "×".join(esc(item.get(name, "")) for name in ("length_cm", "width_cm", "height_cm"))
        parts.append(_("{size} cm").format(size=size))
    return "".join(f" · {part}" for part in parts)


def requirement_lines(draft: Mapping[str, Any], locale: str) -> list[str]:
    """The order's extras for the preview, one line each."""
    lines = []
    if draft.get("business"):
        lines.append(_("Business customer"))
    for request in draft.get("special_requests", []):
        name = _(REQUEST_NAMES.get(RequestKind(request["kind"]), REQUEST_NAMES[RequestKind.OTHER]))
        lines.append(f"{_('Special request')}: {name} — {esc(request['note'])}")
    if draft.get("delivery_by"):
        lines.append(_("Delivery by {date}").format(date=esc(draft["delivery_by"])))
    chosen = [SpecialService(name) for name in draft.get("special_services", [])]
    services = special_services([item for item in draft["items"] if item], chosen)
    if services:
        names = ", ".join(_(SPECIAL_SERVICE_NAMES[service]) for service in sorted(services))
        lines.append(f"{_('Special services')}: {names} " + _("(reviewed by the order desk head)"))
    goods_names = [item.get("name", "") for item in draft["items"] if item]
    for goods in special_goods(goods_names, draft.get("country") or ""):
        category = goods_category_label(goods.category, locale)
        lines.append(
            "⚠ "
            + _("“{name}” is {category}: customs clearance may take longer at the destination.").format(
                name=esc(goods.name), category=esc(category)
            )
        )
    return lines
