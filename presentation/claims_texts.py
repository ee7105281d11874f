"""The words and buttons of claims (R-6.4): the evidence card, customer service's claim card, the offer.

ClaimNotices renders the notification policy's claim notices and hands every other notice to the
renderer it wraps. The evidence card lists the order's goods lines as buttons (a press asks how many
pieces are affected), *Add photos* (then the photos are sent in the chat) and *Evidence complete*;
customer service's card carries *Customer contacted*, then the resolutions; the customer's offer
carries *Accept* and *Decline*; the warehouse's reship task carries *Reshipped*.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from application.notifications import Audience, Notice, NoticeKind, NoticeRenderer, Rendered
from application.ports import Outgoing
from domain.claims.claim import Claim, ClaimProblem, ClaimStep, Offer, Resolution, claim_of
from domain.claims.compensation import ClaimRules, compensation_for, discount_for, shipped_rules
from domain.claims.events import ClaimChanged
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.status import ExceptionType
from presentation.keyboards import N_
from presentation.labels import field
from presentation.render import Translate, fit, keyboard_json, money, one_line, person, translator_or_default

# A goods line's quantity buttons: up to this many pieces, in rows of six.
QUANTITY_BUTTONS = 12
ROW = 6
# Goods lines shown as buttons on the evidence card (Telegram keeps keyboards small).
LINES_SHOWN = 20


class ClaimAction(CallbackData, prefix="clm"):
    """A claim button: the order and what it does (the resolution's discount percentage, if any)."""

    order_id: str
    what: str
    percent: int = 0


class ClaimItem(CallbackData, prefix="clq"):
    """A goods line of the evidence card: -1 asks for the quantity, otherwise sets it."""

    order_id: str
    line: int
    quantity: int = -1


class ClaimReport(CallbackData, prefix="clr"):
    """The customer's answer to "what is wrong": damaged, wrong goods (a claim) or something else."""

    order_id: str
    kind: str


# ClaimReport.kind of anything that is not damaged or wrong goods (the problem report of ).
OTHER_PROBLEM = "other"
WHAT_WRONG = N_("What is wrong with order {id}?")
REPORT_DAMAGED = N_("📦 Goods damaged")
REPORT_WRONG = N_("🔀 Wrong goods")
REPORT_OTHER = N_("💬 Something else")

# ClaimAction.what
ADD_PHOTOS = "photos"
SHOW_PHOTOS = "show"
EVIDENCE = "evidence"
CONTACTED = "contacted"
ACCEPT = "accept"
DECLINE = "decline"
RESHIPPED = "reshipped"
CLOSE = "close"
ITEMS = "items"
RESOLUTIONS = {resolution.value: resolution for resolution in Resolution}

KIND_NAMES: Mapping[ExceptionType, str] = {
    ExceptionType.DAMAGED: N_("Damaged goods"),
    ExceptionType.WRONG_SHIPMENT: N_("Wrong goods shipped"),
    ExceptionType.LOST: N_("Lost goods"),
}
EVIDENCE_CARD = N_(
    "📷 {kind} on order {id}: please attach the evidence within 2 h. Press Add photos and send the "
    "photos (several are fine), choose the affected goods below with their quantities, then press "
    "Evidence complete."
)
LOST_CARD = N_(
    "📷 {kind} on order {id}: please attach the proof within 2 h (a photo of the carrier's loss "
    "confirmation, for example). Press Add photos and send it, then press Evidence complete."
)
PHOTOS = N_("Photos")
AFFECTED = N_("Affected goods")
NONE_YET = N_("none yet")
ITEM_LINE = N_("• {name}: {quantity} of {total}")
ITEM_BUTTON = N_("{name}: {quantity} of {total}")
ADD_PHOTOS_BUTTON = N_("📷 Add photos")
EVIDENCE_BUTTON = N_("✅ Evidence complete")
ASK_QUANTITY = N_("How many pieces of {name} are affected (of {total})?")
SEND_PHOTOS = N_(
    "Send the photos of order {id} now, one or several; press Evidence complete on the card when done."
)
PHOTO_KEPT = N_("Photo {count} kept for order {id}. Send more, or press Evidence complete on the card.")
CLAIM_CARD = N_("🧾 Claim on order {id} ({reference}): {kind}.")
EVIDENCE_RECORDED = N_(
    "Evidence recorded: {photos} photo(s). Contact the customer within 1 h, then press Customer contacted."
)
CONTACTED_TEXT = N_("📞 Customer contacted — {name}. Choose the resolution:")
DECLINED_TEXT = N_("↩ The customer declined: {offer}. Choose another resolution:")
ACCEPTED_MONEY = N_("✅ The customer accepted: {offer}. Finance pays it within 3 working days.")
ACCEPTED_RESHIP = N_("✅ The customer accepted: {offer}. The warehouse has the reship task.")
OFFERED_TEXT = N_("Offered to the customer: {offer}. Waiting for their answer.")
RESHIPPED_TEXT = N_("📦 The replacement goods were shipped — {name}.")
CONTACTED_BUTTON = N_("📞 Customer contacted")
SHOW_PHOTOS_BUTTON = N_("🖼 Show photos")
RESHIP_BUTTON = N_("🔁 Reship")
COMPENSATE_BUTTON = N_("💰 Compensate {amount}")
DISCOUNT_BUTTON = N_("🏷 Discount {percent} % ({amount})")
OFFER_RESHIP = N_("reship the affected goods")
OFFER_COMPENSATE = N_("compensation of {amount}")
OFFER_DISCOUNT = N_("a discount of {percent} % ({amount})")
CUSTOMER_OFFER = N_("About your claim on order {id}: we offer {offer}. Please tap Accept or Decline.")
ACCEPT_BUTTON = N_("✅ Accept")
DECLINE_BUTTON = N_("✖ Decline")
CUSTOMER_ACCEPTED = N_("Thank you. We have your answer on order {id}: {offer}.")
CUSTOMER_RESHIPPED = N_("📦 The replacement goods of order {id} are on their way.")
RESHIP_CARD = N_(
    "🔁 Reship for order {id} ({reference}): please pick, pack and ship these goods within 24 h."
)
RESHIP_BUTTON_DONE = N_("📦 Reshipped")
CLOSE_BUTTON = N_("✔ Close the case")
# How a claim's case ended (domain.exceptions.case.CaseResult values).
RESULT_NAMES: Mapping[str, str] = {
    "reshipped": N_("replacement goods shipped"),
    "compensated": N_("compensation agreed"),
    "discounted": N_("discount agreed"),
    "resumed": N_("order resumed"),
}
CLOSED_TEXT = N_("✔ Case closed: {result}.")
CAPPED = N_("(the claim limit; the goods are worth {value})")
NOT_INSURED = N_("(the declared value: the order has no insurance)")

PROBLEMS: Mapping[ClaimProblem, str] = {
    ClaimProblem.NO_CLAIM: N_("Order {detail} has no open claim for damaged, wrong or lost goods."),
    ClaimProblem.EVIDENCE_CLOSED: N_("The evidence of this claim is complete already."),
    ClaimProblem.TOO_MANY_PHOTOS: N_("A claim keeps at most {detail} photos; this one was not added."),
    ClaimProblem.BAD_FILE: N_("That photo could not be read; please send it again as a photo."),
    ClaimProblem.NO_SUCH_LINE: N_("The order has no goods line {detail}."),
    ClaimProblem.BAD_QUANTITY: N_("Choose a quantity from 0 to {detail}."),
    ClaimProblem.NO_PHOTO: N_("Add at least one photo first: press Add photos and send it."),
    ClaimProblem.NO_ITEMS: N_("Choose the affected goods first: press a goods line and its quantity."),
    ClaimProblem.NO_EVIDENCE: N_("The evidence is not complete yet."),
    ClaimProblem.CONTACTED_ALREADY: N_("The customer's contact is recorded already."),
    ClaimProblem.NOT_CONTACTED: N_("Contact the customer first, then press Customer contacted."),
    ClaimProblem.OFFER_OPEN: N_("An offer is already with the customer or accepted."),
    ClaimProblem.NO_OFFER: N_("There is no offer to answer."),
    ClaimProblem.ANSWERED: N_("This offer was answered already."),
    ClaimProblem.NOT_RESHIP: N_("No accepted reship waits for the warehouse."),
    ClaimProblem.RESHIPPED_ALREADY: N_("The replacement goods are recorded as shipped already."),
    ClaimProblem.NOT_FOR_LOST: N_("Lost goods count in full; there are no goods to choose."),
    ClaimProblem.BAD_DISCOUNT: N_("A discount of {detail} % is not offered."),
    ClaimProblem.NOT_SETTLED: N_(
        "The claim is not settled yet: the customer accepts, and a reship is shipped."
    ),
}


def kind_name(kind: ExceptionType, t: Translate) -> str:
    """A claim type as people read it."""
    return t(KIND_NAMES.get(kind, KIND_NAMES[ExceptionType.DAMAGED]))


def offer_text(order: Order, offer: Offer, t: Translate) -> str:
    """An offer in words."""
    match offer.resolution:
        case Resolution.RESHIP:
            return t(OFFER_RESHIP)
        case Resolution.COMPENSATE:
            return t(OFFER_COMPENSATE).format(amount=money(offer.amount or Decimal(0), order.currency))
        case Resolution.DISCOUNT:
            return t(OFFER_DISCOUNT).format(
                percent=offer.percent or 0, amount=money(offer.amount or Decimal(0), order.currency)
            )


def evidence_text(order: Order, claim: Claim, t: Translate) -> str:
    """The evidence card: what to attach, the photos so far and the affected goods."""
    head = LOST_CARD if claim.lost else EVIDENCE_CARD
    lines = [
        t(head).format(kind=kind_name(claim.kind, t), id=order.display_id),
        f"{field(t, PHOTOS)}{len(claim.photos)}",
    ]
    if not claim.lost:
        lines.append(field(t, AFFECTED) + ("" if claim.items else t(NONE_YET)))
        for index, quantity in sorted(claim.items.items()):
            item = order.items[index]
            lines.append(
                t(ITEM_LINE).format(name=one_line(item.name, 60), quantity=quantity, total=item.quantity)
            )
    return fit(lines, t)


def evidence_keyboard(order: Order, claim: Claim, t: Translate) -> InlineKeyboardMarkup:
    """The goods lines (with the affected quantity), Add photos and Evidence complete."""
    rows: list[list[InlineKeyboardButton]] = []
    if not claim.lost:
        for index, item in enumerate(order.items[:LINES_SHOWN]):
            text = t(ITEM_BUTTON).format(
                name=one_line(item.name, 30), quantity=claim.items.get(index, 0), total=item.quantity
            )
            rows.append([_button(str(text), ClaimItem(order_id=order.id, line=index))])
    rows.append(
        [
            _button(t(ADD_PHOTOS_BUTTON), ClaimAction(order_id=order.id, what=ADD_PHOTOS)),
            _button(t(EVIDENCE_BUTTON), ClaimAction(order_id=order.id, what=EVIDENCE)),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def quantity_keyboard(order: Order, line: int) -> InlineKeyboardMarkup:
    """The quantities of one goods line, 0 to its quantity (the largest always among them)."""
    total = order.items[line].quantity
    choices = sorted({*range(min(total, QUANTITY_BUTTONS - 1) + 1), total})
    buttons = [
        _button(str(quantity), ClaimItem(order_id=order.id, line=line, quantity=quantity))
        for quantity in choices
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + ROW] for i in range(0, len(buttons), ROW)])


def resolution_keyboard(order: Order, claim: Claim, t: Translate, rules: ClaimRules) -> InlineKeyboardMarkup:
    """Reship, compensate (the claim's amount) and the discounts on offer."""
    compensation = compensation_for(order, claim, rules)
    rows = [
        [_button(t(RESHIP_BUTTON), ClaimAction(order_id=order.id, what=Resolution.RESHIP.value))],
        [
            _button(
                t(COMPENSATE_BUTTON).format(amount=money(compensation.amount, order.currency)),
                ClaimAction(order_id=order.id, what=Resolution.COMPENSATE.value),
            )
        ],
        [
            _button(
                t(DISCOUNT_BUTTON).format(
                    percent=percent, amount=money(discount_for(order, percent, rules), order.currency)
                ),
                ClaimAction(order_id=order.id, what=Resolution.DISCOUNT.value, percent=percent),
            )
            for percent in rules.discount_percents
        ],
    ]
    if claim.photos:
        rows.append([_button(t(SHOW_PHOTOS_BUTTON), ClaimAction(order_id=order.id, what=SHOW_PHOTOS))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def claim_card(
    order: Order, claim: Claim, step: ClaimStep, t: Translate, names: Mapping[int, str], rules: ClaimRules
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Customer service's claim card after a step, with the buttons of the next one."""
    lines = [
        t(CLAIM_CARD).format(id=order.display_id, reference=order.reference, kind=kind_name(claim.kind, t))
    ]
    affected = claim.affected(order)
    if affected:
        lines.append(field(t, AFFECTED))
        for index, quantity in sorted(affected.items()):
            item = order.items[index]
            lines.append(
                t(ITEM_LINE).format(name=one_line(item.name, 60), quantity=quantity, total=item.quantity)
            )
    keyboard: InlineKeyboardMarkup | None = None
    offered = offer_text(order, claim.offer, t) if claim.offer is not None else ""
    match step:
        case ClaimStep.EVIDENCE:
            lines.append(t(EVIDENCE_RECORDED).format(photos=len(claim.photos)))
            buttons = [_button(t(CONTACTED_BUTTON), ClaimAction(order_id=order.id, what=CONTACTED))]
            if claim.photos:
                buttons.append(
                    _button(t(SHOW_PHOTOS_BUTTON), ClaimAction(order_id=order.id, what=SHOW_PHOTOS))
                )
            keyboard = InlineKeyboardMarkup(inline_keyboard=[buttons])
        case ClaimStep.CONTACTED:
            who = person(claim.contacted_by, names, t) if claim.contacted_by is not None else ""
            lines.append(t(CONTACTED_TEXT).format(name=who))
            lines.extend(_compensation_note(order, claim, t, rules))
            keyboard = resolution_keyboard(order, claim, t, rules)
        case ClaimStep.OFFERED:
            lines.append(t(OFFERED_TEXT).format(offer=offered))
        case ClaimStep.DECLINED:
            lines.append(t(DECLINED_TEXT).format(offer=offered))
            keyboard = resolution_keyboard(order, claim, t, rules)
        case ClaimStep.ACCEPTED:
            reship = claim.offer is not None and claim.offer.resolution is Resolution.RESHIP
            lines.append(t(ACCEPTED_RESHIP if reship else ACCEPTED_MONEY).format(offer=offered))
            keyboard = None if reship else close_keyboard(order, t)
        case ClaimStep.RESHIPPED:
            who = person(claim.reshipped_by, names, t) if claim.reshipped_by is not None else ""
            lines.append(t(RESHIPPED_TEXT).format(name=who))
            keyboard = close_keyboard(order, t)
    return fit(lines, t), keyboard


def close_keyboard(order: Order, t: Translate) -> InlineKeyboardMarkup:
    """Close the case, once the claim is settled (through the exception flow)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(t(CLOSE_BUTTON), ClaimAction(order_id=order.id, what=CLOSE))]]
    )


def _compensation_note(order: Order, claim: Claim, t: Translate, rules: ClaimRules) -> list[str]:
    """Says when the compensation is capped, and that lost goods are paid at their declared value."""
    compensation = compensation_for(order, claim, rules)
    notes = []
    if compensation.capped:
        notes.append(t(CAPPED).format(value=money(compensation.value, order.currency)))
    if claim.lost:
        notes.append(t(NOT_INSURED))
    return notes


def customer_offer(order: Order, claim: Claim, t: Translate) -> tuple[str, InlineKeyboardMarkup]:
    """The offer in the customer's chat, with Accept and Decline."""
    offered = offer_text(order, claim.offer, t) if claim.offer is not None else ""
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(t(ACCEPT_BUTTON), ClaimAction(order_id=order.id, what=ACCEPT)),
                _button(t(DECLINE_BUTTON), ClaimAction(order_id=order.id, what=DECLINE)),
            ]
        ]
    )
    return str(t(CUSTOMER_OFFER).format(id=order.display_id, offer=offered)), keyboard


def reship_card(order: Order, claim: Claim, t: Translate) -> tuple[str, InlineKeyboardMarkup]:
    """The warehouse's reship task: the affected goods and Reshipped."""
    lines = [t(RESHIP_CARD).format(id=order.display_id, reference=order.reference)]
    for index, quantity in sorted(claim.affected(order).items()):
        item = order.items[index]
        sku = f" ({item.sku})" if item.sku else ""
        lines.append(
            t(ITEM_LINE).format(name=one_line(item.name, 60) + sku, quantity=quantity, total=item.quantity)
        )
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[_button(t(RESHIP_BUTTON_DONE), ClaimAction(order_id=order.id, what=RESHIPPED))]]
    )
    return fit(lines, t), keyboard


def report_keyboard(order: Order, t: Translate) -> InlineKeyboardMarkup:
    """What is wrong with a delivered order: damaged goods, wrong goods, something else."""
    choices = (
        (REPORT_DAMAGED, ExceptionType.DAMAGED.value),
        (REPORT_WRONG, ExceptionType.WRONG_SHIPMENT.value),
        (REPORT_OTHER, OTHER_PROBLEM),
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(t(text), ClaimReport(order_id=order.id, kind=kind))] for text, kind in choices
        ]
    )


def ask_quantity(order: Order, line: int, t: Translate) -> str:
    """Asks how many pieces of a goods line are affected."""
    item = order.items[line]
    return str(t(ASK_QUANTITY).format(name=one_line(item.name, 60), total=item.quantity))


def problem_text(error_problem: ClaimProblem, detail: str, t: Translate) -> str:
    """A refused claim step in words."""
    return str(t(PROBLEMS[error_problem]).format(detail=detail))


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    """An inline button with its callback data."""
    return InlineKeyboardButton(text=str(text), callback_data=data.pack())


class ClaimNotices:
    """Renders the claim notices; every other one goes to the wrapped renderer."""

    KINDS = frozenset(
        {NoticeKind.CLAIM_EVIDENCE, NoticeKind.CLAIM_CARD, NoticeKind.CLAIM_CUSTOMER, NoticeKind.CLAIM_RESHIP}
    )

    def __init__(self, base: NoticeRenderer, i18n: I18n, rules: ClaimRules | None = None) -> None:
        self.base = base
        self.i18n = i18n
        self.rules = rules or shipped_rules()

    def render(self, notice: Notice, event: Event, order: Order, audience: Audience) -> Rendered | None:
        """Renders one notice."""
        if notice.kind not in self.KINDS:
            return self.base.render(notice, event, order, audience)
        claim = claim_of(order)
        if claim is None:
            return None
        t = translator_or_default(self.i18n, audience.language)
        text, keyboard = self._words(notice, event, order, claim, t, audience)
        if not text:
            return None
        params: dict[str, Any] = {"parse_mode": "HTML", "text": text}
        if keyboard is not None:
            params["reply_markup"] = keyboard_json(keyboard)
        return Rendered(Outgoing("sendMessage", params))

    def _words(
        self, notice: Notice, event: Event, order: Order, claim: Claim, t: Translate, audience: Audience
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """The text and buttons of one claim notice."""
        if notice.kind is NoticeKind.CLAIM_EVIDENCE:
            return evidence_text(order, claim, t), evidence_keyboard(order, claim, t)
        if not isinstance(event, ClaimChanged):
            return "", None
        if notice.kind is NoticeKind.CLAIM_CARD:
            return claim_card(order, claim, event.step, t, audience.names, self.rules)
        if notice.kind is NoticeKind.CLAIM_RESHIP:
            return reship_card(order, claim, t)
        if event.step is ClaimStep.OFFERED:
            return customer_offer(order, claim, t)
        if event.step is ClaimStep.RESHIPPED:
            return str(t(CUSTOMER_RESHIPPED).format(id=order.display_id)), None
        offered = offer_text(order, claim.offer, t) if claim.offer is not None else ""
        return str(t(CUSTOMER_ACCEPTED).format(id=order.display_id, offer=offered)), None
