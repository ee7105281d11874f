"""The archive (R-7.3): every completed order's documents in one ZIP, with a manifest and checksums.

Within the week of completion (once the survey went out, or ARCHIVE_AFTER after completion at the
latest) the sweep packs, by order number: the confirmation PDF, the outbound note, the shipping
documents (what booking, customs and the last mile recorded), the exception records and the audit
trail (JSON and CSV), the order itself and its survey answer; `manifest.json` lists every file with
its size and SHA-256, and `SHA256SUMS` repeats the checksums in the format `sha256sum -c` reads.
The ZIP is stored in the database or in ARCHIVE_DIR, and the order becomes archived through the
transition table (which closes the archive clock). Missing PDFs are rendered again from the order.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from application.aftersales_ports import (
    AftersalesSetup,
    AftersalesUnitOfWork,
    ExceptionRecord,
    StoredArchive,
    SurveyAnswer,
)
from application.ports import Document, StoredDocument
from application.services import SYSTEM, commit_change
from domain.aftersales.retention import is_erased
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
CONFIRMATION = "confirmation.pdf"
OUTBOUND_NOTE = "outbound-note.pdf"
# A fixed timestamp inside the ZIP, so that the same contents give the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class ArchiveDocuments(Protocol):
    """Renders an order's PDFs again when none was stored (presentation/archive.py)."""

    def confirmation(self, order: Order) -> Document: ...

    def outbound_note(self, order: Order) -> Document: ...


def _json(value: Any) -> bytes:
    """JSON of plain data, datetimes and decimals as strings."""

    def default(item: object) -> str:
        if isinstance(item, datetime):
            return item.isoformat()
        if isinstance(item, Decimal):
            return str(item)
        raise TypeError(type(item).__name__)

    return json.dumps(value, ensure_ascii=False, indent=2, default=default).encode("utf-8")


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """CSV with a header row, UTF-8 with a byte-order mark (so spreadsheets read Chinese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [
                "" if value is None else (value.isoformat() if isinstance(value, datetime) else value)
                for value in row
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def archive_files(
    order: Order,
    documents: Sequence[StoredDocument],
    exceptions: Sequence[ExceptionRecord],
    answer: SurveyAnswer | None,
    renderer: ArchiveDocuments,
) -> dict[str, bytes]:
    """The files of an order's archive by name (manifest and checksums excluded)."""
    stored = {document.kind: document for document in documents}
    files: dict[str, bytes] = {}
    if "confirmation" in stored:
        files[CONFIRMATION] = stored["confirmation"].content
    elif order.number is not None:
        files[CONFIRMATION] = renderer.confirmation(order).content
    if "outbound_note" in stored:
        files[OUTBOUND_NOTE] = stored["outbound_note"].content
    elif order.shipment.outbound_at is not None:
        files[OUTBOUND_NOTE] = renderer.outbound_note(order).content
    files["order.json"] = _json(
        {
            "number": order.number,
            "reference": order.reference,
            "status": order.status.value,
            "channel": order.channel.value,
            "service": order.service.value,
            "created_at": order.created_at,
            "customer": asdict(order.customer),
            "address": asdict(order.address),
            "items": [asdict(item) for item in order.items],
            "amount": order.amount,
            "currency": order.currency,
            "payment_method": order.payment_method,
            "paid": order.paid,
            "remarks": order.remarks,
        }
    )
    files["shipping.json"] = _json(asdict(order.shipment))
    exception_rows = [
        (case.type, case.cause, case.department, case.opened_at, case.closed_at, case.satisfied, case.result)
        for case in exceptions
    ]
    files["exceptions.json"] = _json([asdict(case) for case in exceptions])
    files["exceptions.csv"] = _csv(
        ("type", "cause", "department", "opened_at", "closed_at", "satisfied", "result"), exception_rows
    )
    audit_rows = [
        (
            line.at,
            line.actor_id,
            line.actor_role.value,
            line.action,
            line.from_status.value if line.from_status else None,
            line.to_status.value if line.to_status else None,
            line.note,
        )
        for line in order.audit
    ]
    header = ("at", "actor_id", "actor_role", "action", "from_status", "to_status", "note")
    files["audit.json"] = _json([dict(zip(header, row, strict=True)) for row in audit_rows])
    files["audit.csv"] = _csv(header, audit_rows)
    if answer is not None:
        files["survey.json"] = _json(asdict(answer))
    return files


def pack_archive(order: Order, files: dict[str, bytes], now: datetime) -> tuple[str, bytes]:
    """Packs the files with a manifest and SHA256SUMS into one ZIP; returns its name and bytes."""
    listed = [
        {"name": name, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
        for name, content in files.items()
    ]
    manifest = _json(
        {
            "order": order.display_id,
            "reference": order.reference,
            "archived_at": now,
            "files": listed,
        }
    )
    sums = "".join(f"{entry['sha256']}  {entry['name']}\n" for entry in listed).encode("ascii")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in (*files.items(), (MANIFEST, manifest), (CHECKSUMS, sums)):
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIME), content, compress_type=zipfile.ZIP_DEFLATED)
    return f"{order.display_id}.zip", buffer.getvalue()


async def archive_order(
    uow: AftersalesUnitOfWork, order_id: str, setup: AftersalesSetup, renderer: ArchiveDocuments
) -> bool:
    """Archives one completed order if it is due; returns whether it did."""
    settings = setup.settings
    async with uow:
        record = await uow.aftersales.get(order_id)
        order = await uow.orders.get(order_id)
        now = setup.clock.now()
        if record is None or order.status is not OrderStatus.COMPLETED or is_erased(order):
            return False
        surveyed = record.survey_sent_at is not None or record.survey_unreachable
        if not surveyed and now < record.completed_at + settings.archive_after:
            return False
        # Archived first, so the archive's audit trail ends with its own archiving line.
        order.apply(Action.ARCHIVE, actor_id=None, roles=SYSTEM, now=now)
        files = archive_files(
            order,
            await uow.aftersales.documents_of(order_id),
            await uow.aftersales.exceptions_of(order_id),
            await uow.aftersales.answer_of(order_id),
            renderer,
        )
        filename, content = pack_archive(order, files, now)
        await uow.aftersales.save_archive(order_id, filename, content, now, directory=settings.archive_dir)
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return True


async def archive_due(
    uow_factory: Callable[[], AftersalesUnitOfWork], setup: AftersalesSetup, renderer: ArchiveDocuments
) -> int:
    """Archives every completed order that is due; returns how many."""
    async with uow_factory() as uow:
        records = await uow.aftersales.awaiting_archive(setup.settings.batch)
    done = 0
    for record in records:
        try:
            done += await archive_order(uow_factory(), record.order_id, setup, renderer)
        except Exception:
            logger.exception("After-sales sweep: could not archive order %s", record.order_id)
    return done


async def fetch_archive(
    uow: AftersalesUnitOfWork, order_id: str, setup: AftersalesSetup
) -> StoredArchive | None:
    """Loads the archive of an order for staff (/archive)."""
    async with uow:
        return await uow.aftersales.get_archive(order_id, directory=setup.settings.archive_dir)
