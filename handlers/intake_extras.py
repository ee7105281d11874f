"""The wizard's quick buttons beyond the basic questions (R-3.1, R-3.2, R-4.1, R-4.3; issue 19).

On the "another goods line?" question: mark the line fragile, add its SKU or HS code. On the
preview: ship as a business, add a special request (a kind and a note), a delivery date, or a
special service. None of them is a question of the linear flow, so an individual's simple parcel
is asked nothing more; a business shipping where customs want HS codes is sent to each line's
HS code when it confirms (the draft's check names the lines).
"""

from __future__ import annotations

from typing import Any

from domain.intake.special_services import offered
from domain.orders.special import RequestKind, SpecialService
from domain.orders.status import Service
from handlers.intake_screens import WizardChat, advance, ask, show_preview
from handlers.intake_states import EXTRA_STEPS, Step, draft_of
from presentation.ids import parse_index


async def extra_button(chat: WizardChat, data: dict[str, Any], step: Step, act: str, value: str) -> bool:
    """Handles a quick button of a goods line or the preview; says whether it was one."""
    draft = draft_of(data)
    items = draft["items"]
    line = parse_index(value, len(items))
    if step.name == "more_items" and act == "fragile" and line is not None:
        items[line]["fragile"] = not items[line].get("fragile")
        await ask(chat, data, step)
    elif step.name == "more_items" and act in ("line_sku", "line_hs") and line is not None:
        await ask(chat, data, Step("item_sku" if act == "line_sku" else "item_hs", line))
    elif step.name == "preview" and act == "business":
        draft["business"] = not draft.get("business")
        await show_preview(chat, data)
    elif step.name == "preview" and act == "extra" and value in EXTRA_STEPS:
        await ask(chat, data, Step(value))
    else:
        return False
    return True


async def extra_pick(chat: WizardChat, data: dict[str, Any], step: Step, value: str) -> bool:
    """Handles a choice on a step asked from the preview; says whether it was one."""
    draft = draft_of(data)
    if step.name == "request_kind" and value in set(RequestKind):
        draft["pending_request"] = value
        await ask(chat, data, Step("request_note"))
    elif step.name == "request_kind" and value in ("none", "clear"):
        if value == "clear":
            draft.pop("special_requests", None)
        await advance(chat, data)
    elif step.name == "special_service" and value in set(SpecialService):
        service = draft.get("service")
        if service in set(Service) and not offered(SpecialService(value), Service(service)):
            return False
        chosen = set(draft.get("special_services", []))
        draft["special_services"] = sorted(chosen ^ {value})
        await ask(chat, data, step)
    elif step.name == "special_service" and value == "done":
        await advance(chat, data)
    else:
        return False
    return True
