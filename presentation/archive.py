"""The archive's PDFs rendered again when none was stored (application/archive.py's ArchiveDocuments)."""

from __future__ import annotations

from application.ports import Document
from domain.orders.model import Order
from presentation.documents import confirmation_pdf
from presentation.outbound_note import TelegramOutboundNotes, safe_filename
from presentation.render import translator


class PdfArchiveDocuments(TelegramOutboundNotes):
    """Renders the confirmation and (as the team gets it) the outbound note, in the company's language."""

    def confirmation(self, order: Order) -> Document:
        """The order confirmation PDF."""
        t = translator(self.i18n, self.language)
        return Document(
            f"confirmation-{safe_filename(order.display_id)}.pdf", confirmation_pdf(order, t, self.timezone)
        )
