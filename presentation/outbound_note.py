"""The outbound note (R-4.2): goods list, scan time and operator, as a PDF for the hand-over to logistics."""

from __future__ import annotations

from aiogram.utils.i18n import I18n
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from application.ports import Document
from domain.execution import item_key
from domain.orders.model import Order
from presentation.documents import a4_pdf, pdf_styles
from presentation.keyboards import N_
from presentation.render import SERVICE_NAMES, Translate, esc, local_time, route, translator


def outbound_note_pdf(order: Order, t: Translate, timezone: str) -> bytes:
    """Renders the outbound note: order, scan time and operator, destination and the goods table."""
    title, _heading, body = pdf_styles()
    shipment = order.shipment
    scanned = local_time(shipment.outbound_at, timezone) if shipment.outbound_at else ""
    header = [N_("SKU"), N_("Goods"), N_("Quantity"), N_("Weight (kg)"), N_("HS code"), N_("Handling")]
    rows = [[t(cell) for cell in header]]
    labelled = set(shipment.fragile_labelled)
    for item in order.items:
        rows.append(
            [
                item.sku or "",
                item.name,
                str(item.quantity),
                str(item.weight_kg),
                item.hs_code or "",
                _handling(item_key(item) in labelled, item.fragile, t),
            ]
        )
    table = Table(
        [[Paragraph(esc(cell), body) for cell in row] for row in rows],
        colWidths=[28 * mm, 52 * mm, 16 * mm, 20 * mm, 24 * mm, 32 * mm],
    )
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "#555555"), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    story = [
        Paragraph(esc(t(N_("Outbound note"))), title),
        Paragraph(f"{esc(t(N_('Order number')))}: {esc(order.display_id)} ({esc(order.reference)})", body),
        Paragraph(f"{esc(t(N_('Scanned at')))}: {scanned}", body),
        Paragraph(f"{esc(t(N_('Operator')))}: {esc(shipment.outbound_operator or '')}", body),
        Paragraph(f"{esc(t(N_('Service')))}: {esc(t(SERVICE_NAMES[order.service]))}", body),
        Paragraph(f"{esc(t(N_('Destination')))}: {route(order)}", body),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 4 * mm),
        Paragraph(esc(t(N_("Handed over to logistics."))), body),
    ]
    return a4_pdf(story, f"{t(N_('Outbound note'))} {order.display_id}")


def _handling(labelled: bool, fragile: bool, t: Translate) -> str:
    """The handling column: fragile, and whether the warehouse confirmed it packed and labelled (R-4.1)."""
    if not fragile:
        return ""
    if labelled:
        return t(N_("FRAGILE: packed separately, labelled"))
    return t(N_("FRAGILE"))


class TelegramOutboundNotes:
    """Produces outbound notes in the team's language (domain.execution.OutboundNotes)."""

    def __init__(self, i18n: I18n, timezone: str, language: str = "en") -> None:
        self.i18n = i18n
        self.timezone = timezone
        self.language = language

    def outbound_note(self, order: Order) -> Document:
        """The outbound note of an order whose scan has just been recorded."""
        t = translator(self.i18n, self.language)
        filename = f"outbound-{safe_filename(order.display_id)}.pdf"
        return Document(filename, outbound_note_pdf(order, t, self.timezone))


def safe_filename(text: str) -> str:
    """Keeps a file name to letters, digits and dashes."""
    return "".join(c if c.isalnum() or c == "-" else "-" for c in text)
