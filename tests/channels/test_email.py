"""The customer's emails (issue 12, R-3.3): EN and ZH, HTML and text, the PDF, the link's QR code inline."""

from __future__ import annotations

from email.message import EmailMessage
from io import BytesIO

import pytest
from pypdf import PdfReader

from application.customer_channels import EMAIL_METHOD
from application.notifications import Notice, NoticeKind, Rendered
from application.ports import OutboxMessage, StoredDocument
from bot.i18n import PoI18n
from domain.delivery import expected_delivery_date
from domain.orders.events import OrderStatusChanged
from domain.orders.model import Item, Order
from domain.orders.status import Action, OrderStatus
from presentation.documents import ConfirmationDocuments
from presentation.email_texts import QR_CID, EmailNotices
from presentation.fonts import cjk_font_file
from scheduler.channels import build_email
from tests.channels.conftest import COMPANY, SLA, T0, customer_order

LINK = "https://t.me/orderdesk_test_bot?start=Vb3kq0token"
NUMBER = "20260316007"


def confirmed(language: str) -> Order:
    """A confirmed email-only order with three goods lines."""
    order = customer_order(chat=None, language=language)
    order.number = NUMBER
    order.items.append(Item("Porcelain vase", 1, order.items[0].weight_kg, order.items[0].declared_value))
    return order


def confirmation(order: Order) -> OrderStatusChanged:
    """The event of the order's confirmation."""
    return OrderStatusChanged(
        f"{order.id}:1",
        order.id,
        T0,
        Action.CONFIRM,
        OrderStatus.AWAITING_CONFIRMATION,
        OrderStatus.CONFIRMED,
        None,
    )


def unused_rendering() -> Rendered | None:
    """The Telegram rendering the confirmation's own email wording never asks for."""
    raise AssertionError("the confirmation email has its own wording")


def pdf_text(content: bytes) -> str:
    """The text the PDF shows, through its embedded font's Unicode map."""
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


@pytest.mark.parametrize(
    ("language", "subject_words", "body_words"),
    [
        ("en", ["Your order", NUMBER, "is confirmed", COMPANY.name], ["Dear Li Wei,", "Expected delivery"]),
        ("zh", ["您的订单", NUMBER, "已确认"], ["Li Wei，您好：", "预计送达"]),
    ],
)
def test_the_confirmation_email_in_the_customers_language_lists_every_goods_line_and_attaches_the_pdf(
    i18n: PoI18n,
    documents: ConfirmationDocuments,
    language: str,
    subject_words: list[str],
    body_words: list[str],
) -> None:
    order = confirmed(language)
    emails = EmailNotices(i18n, documents)

    email = emails.render_email(
        Notice(NoticeKind.CONFIRMATION), confirmation(order), order, language, unused_rendering, LINK
    )

    assert email is not None
    assert all(word in email.subject for word in subject_words), email.subject
    for name in ("Tea set", "Silk scarf", "Porcelain vase"):
        assert name in email.html and name in email.text
    assert all(word in email.text for word in body_words), email.text
    assert expected_delivery_date(order.service, "DE", order.created_at, SLA).isoformat() in email.text
    assert LINK in email.text and f'href="{LINK}"' in email.html and f"cid:{QR_CID}" in email.html
    assert "<" not in email.text
    assert email.attachment is not None and email.attachment.filename == f"order-{NUMBER}.pdf"
    assert email.attachment.content.startswith(b"%PDF") and email.qr_link == LINK


def test_the_pdf_notice_is_not_mailed_again(i18n: PoI18n, documents: ConfirmationDocuments) -> None:
    order = customer_order()
    email = EmailNotices(i18n, documents).render_email(
        Notice(NoticeKind.CONFIRMATION_PDF),
        confirmation(order),
        order,
        "en",
        unused_rendering,
        None,
    )

    assert email is None


def test_the_mime_message_has_text_html_the_inline_qr_code_and_the_pdf(
    i18n: PoI18n, documents: ConfirmationDocuments
) -> None:
    order = confirmed("zh")
    email = EmailNotices(i18n, documents).render_email(
        Notice(NoticeKind.CONFIRMATION),
        confirmation(order),
        order,
        "zh",
        unused_rendering,
        LINK,
    )
    assert email is not None and email.attachment is not None
    params = {"to": "li.wei@example.com", "subject": email.subject, "text": email.text, "html": email.html}
    row = OutboxMessage(-(2**53), EMAIL_METHOD, {**params, "qr_link": LINK}, T0, order_id=order.id, id=7)
    stored = StoredDocument(
        1, order.id, "confirmation", email.attachment.filename, email.attachment.content, T0
    )

    message = build_email("OrderDesk <orders@haiyun.example>", row, stored)

    assert isinstance(message, EmailMessage)
    assert message["To"] == "li.wei@example.com" and "已确认" in str(message["Subject"])
    types = [part.get_content_type() for part in message.walk()]
    assert {"text/plain", "text/html", "image/png", "application/pdf"} <= set(types)
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == f"<{QR_CID}>"
    [pdf] = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"order-{NUMBER}.pdf"


def test_the_pdf_has_company_goods_fees_payment_delivery_date_link_and_embedded_cjk_font(
    i18n: PoI18n, documents: ConfirmationDocuments
) -> None:
    from presentation.render import translator

    order = confirmed("zh")
    content = documents.pdf(order, translator(i18n, "zh"), LINK).content

    text = pdf_text(content)
    for expected in (
        COMPANY.name,
        COMPANY.phone,
        NUMBER,
        order.reference,
        "Li Wei",
        "Tea set",
        "TEA-01",
        "Silk scarf",
        "Porcelain vase",
        "合计",
        "银行卡",
        "尚未付款",
        "预计送达",
        expected_delivery_date(order.service, "DE", order.created_at, SLA).isoformat(),
        f"/track {NUMBER}",
        LINK,
    ):
        assert expected in text, expected
    # The CJK TrueType font is embedded when one is installed, else reportlab's CID font is named.
    assert (b"/FontFile2" if cjk_font_file() is not None else b"STSong-Light") in content
