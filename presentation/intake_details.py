"""What intake captured beyond the basics, as card and confirmation lines: customs details of the goods,
special requests and services, the delivery date against the expected one, and special goods."""

from __future__ import annotations

from datetime import datetime

from domain.intake.clearance import goods_category_label, order_special_goods
from domain.orders.model import Item, Order
from domain.orders.special import RequestKind, SpecialService
from domain.review import delivery_check, order_special_services
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from presentation.keyboards import N_
from presentation.render import Translate, esc, one_line

REQUEST_NAMES: dict[RequestKind, str] = {
    RequestKind.CUSTOMS_AGENT: N_("Named customs agent"),
    RequestKind.SPECIAL_LABELS: N_("Special labels"),
    RequestKind.OTHER: N_("Other request"),
}
SPECIAL_SERVICE_NAMES: dict[SpecialService, str] = {
    SpecialService.OVERSIZE: N_("Oversize cargo"),
    SpecialService.CUSTOM_WAREHOUSE: N_("Custom overseas-warehouse service"),
}


def item_details(item: Item, t: Translate) -> str:
    """One line's SKU, fragile mark, HS code and size ('' when it has none)."""
    parts = []
    if item.sku:
        parts.append(t(N_("SKU {sku}")).format(sku=esc(item.sku)))
    if item.fragile:
        parts.append(t(N_("fragile")))
    if item.hs_code:
        parts.append(t(N_("HS {code}")).format(code=esc(item.hs_code)))
    if item.length_cm and item.width_cm and item.height_cm:
        size = f"{item.length_cm.normalize():f}×{item.width_cm.normalize():f}×{item.height_cm.normalize():f}"
        parts.append(t(N_("{size} cm")).format(size=size))
    return ", ".join(parts)


def special_goods_lines(order: Order, t: Translate, language: str) -> list[str]:
    """Goods whose clearance may take longer at the destination, one line each (R-4.4)."""
    return [
        "• "
        + t(N_("{name} ({category})")).format(
            name=esc(goods.name), category=esc(goods_category_label(goods.category, language))
        )
        for goods in order_special_goods(order)
    ]


def review_detail_lines(
    order: Order, t: Translate, now: datetime, language: str, sla: SlaContext | None = None
) -> list[str]:
    """The review card's lines for what the first and second review check (R-3.1, R-3.2, R-4.4).

    The time requirement is checked against the expected delivery date when the SLA policy is known.
    """
    lines = []
    if order.customer.business:
        lines.append(t(N_("Business customer")))
    details = [f"• {esc(item.name)}: {text}" for item in order.items if (text := item_details(item, t))]
    if details:
        lines += [f"{t(N_('Goods details'))}:", *details]
    requests = order.requirements.special_requests
    if requests:
        lines.append(f"{t(N_('Special requests'))}:")
        lines += [f"• {t(REQUEST_NAMES[r.kind])}: {esc(one_line(r.note))}" for r in requests]
    services = order_special_services(order)
    if services:
        names = ", ".join(t(SPECIAL_SERVICE_NAMES[s]) for s in sorted(services))
        lines.append(f"{t(N_('Special services'))}: {names}")
    check = delivery_check(order, now, sla) if sla is not None else None
    if check is not None:
        values = {"by": check.required_by.isoformat(), "expected": check.expected_on.isoformat()}
        verdict = (
            N_("Delivery by {by}: expected around {expected} ✅")
            if check.feasible
            else N_("⚠️ Delivery by {by}: expected only around {expected}, later than required")
        )
        lines.append(t(verdict).format(**values))
    special = special_goods_lines(order, t, language)
    if special:
        lines += [f"⚠️ {t(N_('Special goods, clearance may take longer'))}:", *special]
    return lines


def clearance_notice_lines(order: Order, t: Translate, language: str) -> list[str]:
    """Tells the customer in advance that clearance of their special goods may take longer (R-4.4)."""
    special = special_goods_lines(order, t, language)
    if not special:
        return []
    limit = load_policy().special_goods_limit("clearance")
    notice = t(
        N_("Customs clearance of these goods may take longer at the destination, up to {limit}:")
    ).format(limit=limit)
    return [f"⚠️ {notice}", *special]
