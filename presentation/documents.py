"""The order confirmation PDF (R-3.3), with reportlab's built-in CID font so Chinese renders offline."""

from __future__ import annotations

import re
from functools import cache
from io import BytesIO

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from domain.orders.model import Order
from presentation.keyboards import N_
from presentation.render import (
    SERVICE_NAMES,
    Translate,
    esc,
    fee_lines,
    goods_lines,
    local_time,
    route,
    timeline_lines,
)

# Adobe's Asian font pack metrics ship with reportlab; the viewer supplies the glyphs, nothing is embedded.
FONT = "STSong-Light"
_BULLET = re.compile(r"^• ")


@cache
def _register_font() -> str:
    """Registers the CJK font once per process (bold maps to the same face: it has no bold)."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT, italic=FONT, boldItalic=FONT)
    return FONT


def pdf_styles() -> tuple[ParagraphStyle, ParagraphStyle, ParagraphStyle]:
    """Title, heading and body styles in the CJK font, wrapping Chinese text between characters."""
    font = _register_font()
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    heading = ParagraphStyle("heading", parent=body, fontSize=12, leading=18, spaceBefore=8)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, spaceAfter=6)
    return title, heading, body


def _pdf_line(line: str) -> str:
    """Adapts one Telegram HTML line (already escaped) to reportlab's paragraph markup."""
    # The CID font has no bullet glyph in every viewer; a dash renders everywhere.
    return _BULLET.sub("- ", line)


def confirmation_pdf(order: Order, t: Translate, timezone: str) -> bytes:
    """Renders the order confirmation: number, customer, goods, service, fees, timeline, tracking."""
    title, heading, body = pdf_styles()
    customer = order.customer
    contact = ", ".join(esc(value) for value in (customer.phone, customer.email) if value)
    confirmed_at = next(
        (e.at for e in reversed(order.audit) if e.action == "assign_number"), order.created_at
    )
    story = [
        Paragraph(esc(t(N_("Order confirmation"))), title),
        Paragraph(f"{esc(t(N_('Order number')))}: {esc(order.number or '')}", body),
        Paragraph(f"{esc(t(N_('Confirmed at')))}: {local_time(confirmed_at, timezone)}", body),
        Paragraph(esc(t(N_("Customer"))), heading),
        Paragraph(esc(customer.name) + (f" ({contact})" if contact else ""), body),
        Paragraph(f"{esc(t(N_('Destination')))}: {route(order)}", body),
        Paragraph(esc(t(N_("Service"))), heading),
        Paragraph(esc(t(SERVICE_NAMES[order.service])), body),
        Paragraph(esc(t(N_("Goods"))), heading),
        *(Paragraph(_pdf_line(line), body) for line in goods_lines(order)),
        Paragraph(esc(t(N_("Fees"))), heading),
        *(Paragraph(_pdf_line(line), body) for line in fee_lines(order, t)),
        Paragraph(esc(t(N_("Expected timeline"))), heading),
        *(Paragraph(_pdf_line(line), body) for line in timeline_lines(order, t)),
        Spacer(1, 4 * mm),
        Paragraph(esc(t(N_("How to track your order"))), heading),
        Paragraph(
            esc(t(N_("Track it any time: send /track {number} or open “My orders”."))).format(
                number=esc(order.number or "")
            ),
            body,
        ),
    ]
    return a4_pdf(story, f"{t(N_('Order confirmation'))} {order.number or ''}")


def a4_pdf(story: list[Flowable], title: str) -> bytes:
    """Lays the story out on portrait A4 pages with the documents' margins."""
    buffer = BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="OrderDesk",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    ).build(story)
    return buffer.getvalue()
