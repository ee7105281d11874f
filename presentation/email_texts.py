"""The customer's emails (issue 12, R-3.3, R-5.2), in their language, as HTML and plain text.

The confirmation has its own wording (every goods line, the fees, payment, the expected delivery
date, how to track, and for a customer without a chat the Telegram link with its QR code) and
carries the confirmation PDF; its separate PDF notice is not mailed again. Every other customer
notice is mailed as the text Telegram would show, so a notice added later reaches email customers
without more work.
"""

from __future__ import annotations

import html
import re

from aiogram.utils.i18n import I18n

from application.customer_channels import Email, TelegramRendering
from application.notifications import Notice, NoticeKind
from domain.orders.events import Event
from domain.orders.model import Order
from presentation.documents import ConfirmationDocuments, payment_line
from presentation.keyboards import N_
from presentation.render import SERVICE_NAMES, Html, Translate, esc, fee_lines, money, translator_or_default

# The inline QR code's Content-ID (scheduler/channels.py attaches the image under it).
QR_CID = "telegram-qr"
_TAG = re.compile(r"<[^>]+>")
# Tags a Telegram message may hold that an email shows as they are.
_EMAIL_SAFE = re.compile(r"</?(b|strong|i|em|u|s|code|pre|a)(\s[^>]*)?>")

SUBJECT = N_("About your order {id}")
CONFIRMED_SUBJECT = N_("Your order {number} is confirmed — {company}")
GREETING = N_("Dear {name},")
LINK_TEXT = N_("Open this link or scan the code to get every update in Telegram: {link}")
TRACK_TEXT = N_("In the Telegram bot, send /track {number} or open “My orders”.")
SIGNATURE = N_("Kind regards, {company}")


def plain_text(message_html: str) -> str:
    """A Telegram HTML text as plain text: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", message_html))


def email_html(lines: list[str], lang: str) -> str:
    """Wraps escaped HTML lines into a small email document."""
    body = "<br>\n".join(lines)
    return (
        f'<!DOCTYPE html><html lang="{esc(lang)}"><head><meta charset="utf-8"></head>'
        f'<body style="font-family: sans-serif; line-height: 1.5">{body}</body></html>'
    )


class EmailNotices:
    """Renders customer notices as emails (the EmailRenderer port)."""

    def __init__(self, i18n: I18n, documents: ConfirmationDocuments) -> None:
        self.i18n = i18n
        self.documents = documents

    def render_email(
        self,
        notice: Notice,
        event: Event,
        order: Order,
        language: str,
        telegram: TelegramRendering,
        link: str | None,
    ) -> Email | None:
        """Renders one customer notice as an email; None when it has nothing to mail."""
        t = translator_or_default(self.i18n, language)
        if notice.kind is NoticeKind.CONFIRMATION_PDF:
            return None
        if notice.kind is NoticeKind.CONFIRMATION:
            return self.confirmation(order, t, language, link)
        rendered = telegram()
        if rendered is None:
            return None
        params = rendered.message.params
        text = params.get("text") or params.get("caption")
        if not isinstance(text, str) or not text:
            return None
        company = self.documents.company.name
        lines = [t(GREETING).format(name=order.customer.name), "", *email_lines(text)]
        if link is not None:
            lines += ["", t(LINK_TEXT).format(link=Html(f'<a href="{esc(link)}">{esc(link)}</a>'))]
        lines += ["", t(SIGNATURE).format(company=company)]
        return Email(
            subject=plain_text(t(SUBJECT).format(id=order.display_id)),
            text=plain_text("\n".join(lines)),
            html=email_html(lines, language),
            attachment=rendered.document,
        )

    def confirmation(self, order: Order, t: Translate, language: str, link: str | None) -> Email:
        """The confirmation email, with the PDF attached and, without a chat, the link and its QR code."""
        extras = self.documents.extras(order, link)
        company = extras.company
        number = esc(order.number or "")
        lines = [
            t(GREETING).format(name=order.customer.name),
            "",
            f"<b>{esc(t(N_('Your order is confirmed')))}</b>",
            f"{esc(t(N_('Order number')))}: <b>{number}</b>",
            f"{esc(t(N_('Reference')))}: {esc(order.reference)}",
            f"{esc(t(N_('Service')))}: {esc(t(SERVICE_NAMES[order.service]))}",
            f"<b>{esc(t(N_('Goods')))}</b>",
            *(
                f"• {esc(item.name)} × {item.quantity}, {esc(str(item.weight_kg))} kg, "
                f"{money(item.declared_value, order.currency)}"
                for item in order.items
            ),
            f"<b>{esc(t(N_('Fees')))}</b>",
            *fee_lines(order, t),
            f"{esc(t(N_('Payment')))}: {payment_line(order, t)}",
        ]
        if extras.expected_delivery is not None:
            when = extras.expected_delivery.isoformat()
            lines.append(f"{esc(t(N_('Expected delivery')))}: <b>{when}</b>")
        lines += [
            "",
            f"<b>{esc(t(N_('How to track your order')))}</b>",
            t(TRACK_TEXT).format(number=order.number or ""),
        ]
        if link is not None:
            lines += [
                t(LINK_TEXT).format(link=Html(f'<a href="{esc(link)}">{esc(link)}</a>')),
                f'<img src="cid:{QR_CID}" alt="QR" width="160" height="160">',
            ]
        lines += ["", esc(t(N_("The confirmation is attached as a PDF."))), ""]
        lines += [
            t(SIGNATURE).format(company=company.name),
            *(esc(line) for line in company.contact_lines()),
        ]
        subject = plain_text(
            t(CONFIRMED_SUBJECT).format(number=order.number or order.reference, company=company.name)
        )
        return Email(
            subject=subject,
            text=plain_text("\n".join(line for line in lines if not line.startswith("<img"))),
            html=email_html(lines, language),
            attachment=self.documents.pdf(order, t, link),
            qr_link=link,
        )


def email_lines(message_html: str) -> list[str]:
    """The lines of a Telegram HTML text, with only the tags an email shows kept."""
    kept = []
    for line in message_html.split("\n"):
        parts = re.split(r"(<[^>]+>)", line)
        kept.append(
            "".join(part if not part.startswith("<") or _EMAIL_SAFE.fullmatch(part) else "" for part in parts)
        )
    return kept
