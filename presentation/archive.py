"""The archive's PDFs rendered again when none was stored (application/archive.py's ArchiveDocuments)."""

from __future__ import annotations

from aiogram.utils.i18n import I18n

from application.ports import Document
from domain.orders.model import Order
from presentation.documents import confirmation_pdf
from presentation.outbound_note import outbound_note_pdf, safe_filename
from presentation.render import translator


class PdfArchiveDocuments:
    """Renders the confirmation and the outbound note of an order, in the company's language."""

    def __init__(self, i18n: I18n, timezone: str, language: str = "en") -> None:
        self.i18n = i18n
        self.timezone = timezone
        self.language = language

    def confirmation(self, order: Order) -> Document:
        """The order confirmation PDF."""
        t = translator(self.i18n, self.language)
        return Document(
            f"confirmation-{safe_filename(order.display_id)}.pdf", confirmation_pdf(order, t, self.timezone)
        )

    def outbound_note(self, order: Order) -> Document:
        """The outbound note PDF."""
        t = translator(self.i18n, self.language)
        return Document(
            f"outbound-{safe_filename(order.display_id)}.pdf", outbound_note_pdf(order, t, self.timezone)
        )
