"""The order confirmation PDF (R-3.3): company, order, customer, goods and fee tables, payment,
expected delivery and how to track (link and QR code), in an embedded CJK font.

The font is the CJK TrueType font presentation/fonts.py finds, embedded as a subset so the PDF
looks the same in every viewer; without one, reportlab's STSong-Light CID font (not embedded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from io import BytesIO

import segno
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from application.ports import Document
from domain.delivery import expected_delivery_date
from domain.errors import DomainError
from domain.intake.clearance import order_special_goods
from domain.intake.pricing import quote
from domain.orders.model import Order
from domain.sla.clocks import SlaContext
from presentation.fonts import cjk_font_file
from presentation.intake_texts import PAYMENT_LABELS
from presentation.keyboards import N_
from presentation.render import (
    QUOTE_LINE_NAMES,
    SERVICE_NAMES,
    Translate,
    esc,
    local_time,
    money,
    route,
    timeline_lines,
)

# Adobe's Asian font pack metrics ship with reportlab; the viewer supplies the glyphs, nothing is embedded.
FONT = "STSong-Light"
# The installed CJK TrueType font, embedded (subset) in the PDF.
EMBEDDED_FONT = "OrderDeskCJK"
_BULLET = re.compile(r"^• ")
QR_SIZE = 32 * mm


@dataclass(frozen=True)
class CompanyDetails:
    """Who sends the confirmation (COMPANY_NAME and the other COMPANY_* settings)."""

    name: str = "OrderDesk Logistics"
    address: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""

    def contact_lines(self) -> list[str]:
        """The address and contacts that are set, one per line (not escaped)."""
        return [value for value in (self.address, self.phone, self.email, self.website) if value]


@dataclass(frozen=True)
class ConfirmationExtras:
    """What the confirmation adds to the order: the company, the expected delivery date, the chat link."""

    company: CompanyDetails
    expected_delivery: date | None = None
    # The one-time link that binds a Telegram chat (offline and platform orders without one).
    telegram_link: str | None = None


@cache
def _register_font() -> str:
    """Registers the CJK font once per process (bold maps to the same face: it has no bold)."""
    font = FONT
    path = cjk_font_file()
    try:
        if path is None:
            raise TTFError("no CJK TrueType font installed")
        pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, str(path), subfontIndex=0))
        font = EMBEDDED_FONT
    except TTFError:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    pdfmetrics.registerFontFamily(font, normal=font, bold=font, italic=font, boldItalic=font)
    return font


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


def qr_drawing(link: str, size: float = QR_SIZE) -> Drawing:
    """The link as a QR code, drawn as vector squares (sharp at any zoom, no image library)."""
    code = segno.make(link, error="m")
    matrix = [list(row) for row in code.matrix_iter(border=2)]
    cell = size / len(matrix)
    drawing = Drawing(size, size)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                square = Rect(x * cell, size - (y + 1) * cell, cell, cell)
                square.fillColor, square.strokeWidth = colors.black, 0
                drawing.add(square)
    return drawing


def _table(rows: list[list[Paragraph]], widths: list[float]) -> Table:
    """A ruled table with a shaded header row."""
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def goods_table(order: Order, t: Translate, body: ParagraphStyle) -> Table:
    """Every goods line: name, SKU, quantity, weight, declared value."""
    header = [N_("Goods"), N_("SKU"), N_("Quantity"), N_("Weight (kg)"), N_("Declared value")]
    rows = [[Paragraph(esc(t(label)), body) for label in header]]
    for item in order.items:
        cells = [
            esc(item.name) + (f" ({esc(t(N_('fragile')))})" if item.fragile else ""),
            esc(item.sku or "—"),
            str(item.quantity),
            esc(str(item.weight_kg)),
            str(money(item.declared_value, order.currency)),
        ]
        rows.append([Paragraph(cell, body) for cell in cells])
    return _table(rows, [62 * mm, 30 * mm, 20 * mm, 25 * mm, 37 * mm])


def fee_table(order: Order, t: Translate, body: ParagraphStyle) -> Table:
    """The fee breakdown from the tariff, and the total."""
    rows = [[Paragraph(esc(t(N_("Fee"))), body), Paragraph(esc(t(N_("Amount"))), body)]]
    try:
        priced = quote(order.service, order.address.country, order.items, urgent=order.urgent)
        lines = priced.breakdown if priced.currency == order.currency else []
    except (DomainError, KeyError, ValueError):
        lines = []
    for line in lines:
        name = t(QUOTE_LINE_NAMES.get(line.code, line.code))
        rows.append([Paragraph(esc(name), body), Paragraph(str(money(line.amount, order.currency)), body)])
    total = f"<b>{esc(t(N_('Total')))}</b>"
    rows.append([Paragraph(total, body), Paragraph(f"<b>{money(order.amount, order.currency)}</b>", body)])
    return _table(rows, [124 * mm, 50 * mm])


def payment_line(order: Order, t: Translate) -> str:
    """The payment method and whether it is paid (escaped)."""
    method = t(PAYMENT_LABELS.get(order.payment_method, order.payment_method))
    status = t(N_("paid")) if order.paid else t(N_("not paid yet"))
    return f"{esc(method)}, {esc(status)}"


def confirmed_at(order: Order) -> datetime:
    """When the order got its number (its creation, if it has none yet)."""
    return next((e.at for e in reversed(order.audit) if e.action == "assign_number"), order.created_at)


class ConfirmationDocuments:
    """Builds the confirmation PDF with the company's details and the expected delivery date."""

    def __init__(self, company: CompanyDetails, timezone: str, sla: SlaContext | None = None) -> None:
        self.company = company
        self.timezone = timezone
        self.sla = sla

    def extras(self, order: Order, telegram_link: str | None = None) -> ConfirmationExtras:
        """The company, the expected delivery date (given the SLA policy) and the chat link."""
        expected = None
        if self.sla is not None:
            expected = expected_delivery_date(
                order.service,
                order.address.country,
                confirmed_at(order),
                self.sla,
                special_goods=bool(order_special_goods(order)),
            )
        return ConfirmationExtras(self.company, expected, telegram_link)

    def pdf(self, order: Order, t: Translate, telegram_link: str | None = None) -> Document:
        """The confirmation PDF as a file to send or attach."""
        content = confirmation_pdf(order, t, self.timezone, self.extras(order, telegram_link))
        return Document(f"order-{order.number or order.reference}.pdf", content)


def confirmation_pdf(
    order: Order, t: Translate, timezone: str, extras: ConfirmationExtras | None = None
) -> bytes:
    """Renders the order confirmation as a company sends it (R-3.3)."""
    title, heading, body = pdf_styles()
    extras = extras or ConfirmationExtras(CompanyDetails())
    company = extras.company
    customer = order.customer
    contact = ", ".join(esc(value) for value in (customer.phone, customer.email) if value)
    story: list[Flowable] = [
        Paragraph(f"<b>{esc(company.name)}</b>", heading),
        *(Paragraph(esc(line), body) for line in company.contact_lines()),
        Spacer(1, 3 * mm),
        Paragraph(esc(t(N_("Order confirmation"))), title),
        Paragraph(f"{esc(t(N_('Order number')))}: <b>{esc(order.number or '')}</b>", body),
        Paragraph(f"{esc(t(N_('Reference')))}: {esc(order.reference)}", body),
        Paragraph(f"{esc(t(N_('Confirmed at')))}: {local_time(confirmed_at(order), timezone)}", body),
        Paragraph(esc(t(N_("Customer"))), heading),
        Paragraph(esc(customer.name) + (f" ({contact})" if contact else ""), body),
        Paragraph(f"{esc(t(N_('Destination')))}: {route(order)}", body),
        Paragraph(esc(t(N_("Goods"))), heading),
        goods_table(order, t, body),
        Paragraph(esc(t(N_("Service"))), heading),
        Paragraph(esc(t(SERVICE_NAMES[order.service])), body),
        Paragraph(esc(t(N_("Fees"))), heading),
        fee_table(order, t, body),
        Paragraph(f"{esc(t(N_('Payment')))}: {payment_line(order, t)}", body),
    ]
    if extras.expected_delivery is not None:
        when = extras.expected_delivery.isoformat()
        story.append(Paragraph(f"{esc(t(N_('Expected delivery')))}: <b>{when}</b>", body))
    story += [
        Paragraph(esc(t(N_("Expected timeline"))), heading),
        *(Paragraph(_pdf_line(line), body) for line in timeline_lines(order, t)),
    ]
    story += [
        Spacer(1, 4 * mm),
        Paragraph(esc(t(N_("How to track your order"))), heading),
        Paragraph(
            esc(t(N_("In the Telegram bot, send /track {number} or open “My orders”."))).format(
                number=esc(order.number or "")
            ),
            body,
        ),
    ]
    if extras.telegram_link is not None:
        link = esc(extras.telegram_link)
        # The link on a line of its own, so it is never broken across lines.
        story += [
            Paragraph(
                esc(t(N_("Open this link or scan the code to get every update in Telegram: {link}"))).format(
                    link=""
                ),
                body,
            ),
            Paragraph(f'<link href="{link}">{link}</link>', body),
            qr_drawing(extras.telegram_link),
        ]
    return a4_pdf(story, f"{t(N_('Order confirmation'))} {order.number or ''}", author=company.name)


def a4_pdf(story: list[Flowable], title: str, *, author: str = "OrderDesk") -> bytes:
    """Lays the story out on portrait A4 pages with the documents' margins."""
    buffer = BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author=author,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    ).build(story)
    return buffer.getvalue()
