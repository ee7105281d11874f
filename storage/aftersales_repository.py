"""After-sales records (R-7): completions, surveys and their answers, archives, erasure, retention runs.

Archives live in the database (order_archives.content) or, with ARCHIVE_DIR, as files named by
order there (order_archives.path). erase() erases an order's personal data everywhere it is kept:
the order row (names, phones, emails, addresses, chat id, goods names, remarks, what execution
recorded about people and places), the free text of its audit trail and review questions, its
documents, archive, outbox messages, survey comment, platform fingerprint, the notes, customs
requests, records, evidence files and trail notes of its exception cases, and, when the customer
has no other order still kept, what the bot remembers of their chat (language, FSM state). The
anonymous facts the KPIs read stay: statuses, times, audit actions, clocks, ratings and complaint
flags, exception types.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from application.aftersales_ports import (
    AftersalesRecord,
    ExceptionRecord,
    StoredArchive,
    SurveyAnswer,
)
from application.ports import StoredDocument
from domain.aftersales.completion import PROBLEM_REPORTED
from domain.aftersales.retention import ERASED_ACTION
from domain.orders.status import OrderStatus, Role
from storage.models import (
    AftersalesRow,
    ApiIdempotencyRow,
    ChatBindingTokenRow,
    ChatConsentRow,
    ConversationMessageRow,
    ConversationRow,
    ExceptionCaseRow,
    FsmStateRow,
    MoneyOwedRow,
    OrderArchiveRow,
    OrderAuditRow,
    OrderDocumentRow,
    OrderPaymentRow,
    OrderRow,
    OutboxRow,
    RetentionRunRow,
    ReviewQuestionRow,
    SurveyAnswerRow,
    UserRow,
)
from storage.repositories import PREFETCHED_STATES, record_from

# What execution recorded that is not about a person or a place: times and the carrier.
_SHIPMENT_KEPT = ("carrier", "etd", "eta")
# The tables of order rows read whole by the archive and the survey.
OfOrder = TypeVar("OfOrder", SurveyAnswerRow, OrderDocumentRow, ExceptionCaseRow)


def _anonymous_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keeps the quantities, weights and values of goods lines, not their names or SKUs."""
    return [{**item, "name": "", "sku": None} for item in items]


def _anonymous_shipment(shipment: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keeps the times and the carrier of what execution recorded; drops names, phones, places, photos."""
    if shipment is None:
        return None
    return {key: value for key, value in shipment.items() if key in _SHIPMENT_KEPT or key.endswith("_at")}


def _write_file(target: Path, content: bytes) -> Path:
    """Writes a file whole (through a temporary name), creating its folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(content)
    partial.replace(target)
    return target


class SqlAftersalesRepository:
    """After-sales rows on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def due_for_completion(self, delivered_before: datetime, limit: int) -> list[str]:
        """Delivered orders that may be due to complete, the domain deciding exactly.

        Delivered before the moment, or back from an exception, with no problem reported since they
        last reached delivered; oldest first.
        """
        reached, problem, later = (aliased(OrderAuditRow) for _ in range(3))
        delivered = OrderStatus.DELIVERED.value
        reach = select(func.max(reached.at)).where(
            reached.order_id == OrderRow.id,
            reached.to_status == delivered,
            or_(reached.at <= delivered_before, reached.from_status == OrderStatus.EXCEPTION.value),
        )
        stmt = (
            select(OrderRow.id)
            .where(
                OrderRow.status == delivered,
                reach.scalar_subquery().is_not(None),
                ~exists().where(
                    problem.order_id == OrderRow.id,
                    problem.action == PROBLEM_REPORTED,
                    ~exists().where(
                        later.order_id == OrderRow.id,
                        later.to_status == delivered,
                        later.from_status != delivered,
                        later.at > problem.at,
                    ),
                ),
            )
            .order_by(reach.scalar_subquery())
            .limit(limit)
        )
        return list((await self._session.scalars(stmt)).all())

    async def completed_without_record(self, limit: int) -> list[str]:
        """Orders in status completed that have no after-sales record yet."""
        stmt = (
            select(OrderRow.id)
            .where(
                OrderRow.status == OrderStatus.COMPLETED.value,
                ~exists().where(AftersalesRow.order_id == OrderRow.id),
            )
            .limit(limit)
        )
        return list((await self._session.scalars(stmt)).all())

    async def record_completion(self, order_id: str, completed_at: datetime) -> None:
        """Starts the after-sales record of a completed order."""
        self._session.add(
            AftersalesRow(order_id=order_id, completed_at=completed_at, survey_unreachable=False)
        )
        await self._session.flush()

    async def get(self, order_id: str) -> AftersalesRecord | None:
        """The record of one order."""
        row = await self._session.get(AftersalesRow, order_id)
        return None if row is None else record_from(AftersalesRecord, row)

    async def by_token(self, token: str) -> AftersalesRecord | None:
        """The record whose survey has this token."""
        row = await self._session.scalar(select(AftersalesRow).where(AftersalesRow.survey_token == token))
        return None if row is None else record_from(AftersalesRecord, row)

    async def _records(self, *conditions: Any, limit: int) -> list[AftersalesRecord]:
        """Records matching the conditions, oldest completion first."""
        stmt = select(AftersalesRow).where(*conditions).order_by(AftersalesRow.completed_at).limit(limit)
        return [record_from(AftersalesRecord, row) for row in (await self._session.scalars(stmt)).all()]

    async def awaiting_survey(self, completed_before: datetime, limit: int) -> list[AftersalesRecord]:
        """Completed orders whose survey has not gone out (completed before the given moment)."""
        return await self._records(
            AftersalesRow.survey_sent_at.is_(None),
            AftersalesRow.survey_unreachable.is_(False),
            AftersalesRow.erased_at.is_(None),
            AftersalesRow.completed_at <= completed_before,
            limit=limit,
        )

    async def awaiting_reminder(self, sent_before: datetime, limit: int) -> list[AftersalesRecord]:
        """Surveys sent before the given moment, unanswered and not yet reminded."""
        return await self._records(
            AftersalesRow.survey_sent_at.is_not(None),
            AftersalesRow.survey_sent_at <= sent_before,
            AftersalesRow.survey_reminded_at.is_(None),
            AftersalesRow.erased_at.is_(None),
            ~exists().where(SurveyAnswerRow.order_id == AftersalesRow.order_id),
            limit=limit,
        )

    async def awaiting_archive(self, limit: int) -> list[AftersalesRecord]:
        """Completed orders not archived yet."""
        return await self._records(
            AftersalesRow.archived_at.is_(None), AftersalesRow.erased_at.is_(None), limit=limit
        )

    async def mark_survey(self, order_id: str, *, token: str | None, at: datetime, reminder: bool) -> None:
        """Records that the survey (or its reminder) went out."""
        values: dict[str, Any] = {"survey_reminded_at": at} if reminder else {"survey_sent_at": at}
        if token is not None:
            values["survey_token"] = token
        await self._session.execute(
            update(AftersalesRow).where(AftersalesRow.order_id == order_id).values(**values)
        )

    async def mark_unreachable(self, order_id: str) -> None:
        """Records that no survey can reach the customer."""
        await self._session.execute(
            update(AftersalesRow).where(AftersalesRow.order_id == order_id).values(survey_unreachable=True)
        )

    async def answer_of(self, order_id: str) -> SurveyAnswer | None:
        """The survey answer of an order."""
        row = await self._answer_row(order_id)
        return None if row is None else record_from(SurveyAnswer, row)

    async def _rows_of(self, table: type[OfOrder], order_id: str) -> Sequence[OfOrder]:
        """The rows of one table that belong to an order, oldest first."""
        stmt = select(table).where(table.order_id == order_id).order_by(table.id)
        return (await self._session.scalars(stmt)).all()

    async def _answer_row(self, order_id: str) -> SurveyAnswerRow | None:
        return next(iter(await self._rows_of(SurveyAnswerRow, order_id)), None)

    async def save_answer(self, answer: SurveyAnswer) -> None:
        """Records the answer of an order (one per order; a change replaces it)."""
        row = await self._answer_row(answer.order_id)
        if row is None:
            row = SurveyAnswerRow(order_id=answer.order_id, answered_at=answer.answered_at)
            self._session.add(row)
        row.rating, row.complaint, row.comment = answer.rating, answer.complaint, answer.comment
        row.marked_complaint, row.changed_at = answer.marked_complaint, answer.changed_at
        await self._session.flush()

    async def documents_of(self, order_id: str) -> list[StoredDocument]:
        """The generated documents of an order, oldest first."""
        return [record_from(StoredDocument, row) for row in await self._rows_of(OrderDocumentRow, order_id)]

    async def exceptions_of(self, order_id: str) -> list[ExceptionRecord]:
        """The exception cases of an order, oldest first."""
        return [record_from(ExceptionRecord, row) for row in await self._rows_of(ExceptionCaseRow, order_id)]

    async def save_archive(
        self, order_id: str, filename: str, content: bytes, at: datetime, *, directory: str | None
    ) -> str:
        """Stores an order's archive (in the database, or as a file in directory); returns its SHA-256."""
        digest = hashlib.sha256(content).hexdigest()
        path: str | None = None
        if directory is not None:
            path = str(await asyncio.to_thread(_write_file, Path(directory) / filename, content))
        await self._session.execute(delete(OrderArchiveRow).where(OrderArchiveRow.order_id == order_id))
        self._session.add(
            OrderArchiveRow(
                order_id=order_id,
                filename=filename,
                sha256=digest,
                size=len(content),
                content=None if path else content,
                path=path,
                created_at=at,
            )
        )
        await self._session.execute(
            update(AftersalesRow).where(AftersalesRow.order_id == order_id).values(archived_at=at)
        )
        await self._session.flush()
        return digest

    async def get_archive(self, order_id: str, *, directory: str | None) -> StoredArchive | None:
        """Loads an order's archive, from the database or its file."""
        row = await self._session.get(OrderArchiveRow, order_id)
        if row is None:
            return None
        if row.content is not None:
            content = row.content
        else:
            try:
                content = await asyncio.to_thread(Path(row.path or "").read_bytes)
            except OSError:
                return None
        return StoredArchive(row.order_id, row.filename, row.sha256, content, row.created_at)

    async def due_for_erasure(self, archived_before: datetime, limit: int) -> list[AftersalesRecord]:
        """Archived orders not erased yet, archived before the given moment, oldest first."""
        stmt = (
            select(AftersalesRow)
            .where(
                AftersalesRow.archived_at.is_not(None),
                AftersalesRow.archived_at < archived_before,
                AftersalesRow.erased_at.is_(None),
            )
            .order_by(AftersalesRow.archived_at)
            .limit(limit)
        )
        return [record_from(AftersalesRecord, row) for row in (await self._session.scalars(stmt)).all()]

    async def _erase_cases(self, order_id: str) -> int:
        """Erases what people wrote and sent on an order's exception cases; type, cause, times stay."""
        rows = (
            await self._session.scalars(select(ExceptionCaseRow).where(ExceptionCaseRow.order_id == order_id))
        ).all()
        for row in rows:
            evidence = row.evidence or {}
            row.note = ""
            row.customs_needs = None
            row.record = None
            row.feedback = None
            # Photos and documents are the customer's; the affected items are goods names.
            row.evidence = {"files": [], "items": [], "erased_files": len(evidence.get("files", []))}
            row.steps = [{**step, "note": "", "files": []} for step in row.steps or []]
        await self._session.flush()
        return len(rows)

    async def erase(self, order_id: str, at: datetime, *, directory: str | None) -> dict[str, int]:
        """Deletes the archive, erases the personal data of the order and all linked to it; returns counts."""
        session = self._session
        order = await session.get(OrderRow, order_id)
        if order is None:
            return {}
        counts: dict[str, int] = {"orders": 1}
        customer = order.customer_telegram_user_id
        archive = await session.get(OrderArchiveRow, order_id)
        if archive is not None:
            if archive.path:
                await asyncio.to_thread(Path(archive.path).unlink, missing_ok=True)
                counts["archive_files"] = 1
            counts["archives"] = 1
            await session.delete(archive)
        counts["documents"] = await self._delete(
            delete(OrderDocumentRow).where(OrderDocumentRow.order_id == order_id)
        )
        outbox = OutboxRow.order_id == order_id
        if customer is not None and not await self._other_orders_kept(customer, order_id):
            outbox = or_(outbox, OutboxRow.chat_id == customer)
            await session.execute(delete(UserRow).where(UserRow.id == customer))
            counts["chat_states"] = await self._delete(
                delete(FsmStateRow).where(FsmStateRow.key.like(f"%:{customer}:%"))
            )
            session.info.pop(PREFETCHED_STATES, None)
            counts["users"] = 1
            # The customer's chat consents and conversations with customer service go with their last order.
            contact = [ChatConsentRow.chat_id == customer]
            contact += [ChatConsentRow.phone == order.customer_phone] if order.customer_phone else []
            contact += [ChatConsentRow.email == order.customer_email] if order.customer_email else []
            counts["chat_consents"] = await self._delete(delete(ChatConsentRow).where(or_(*contact)))
            threads = select(ConversationRow.id).where(ConversationRow.customer_id == customer)
            counts["conversation_messages"] = await self._delete(
                delete(ConversationMessageRow).where(ConversationMessageRow.conversation_id.in_(threads))
            )
            counts["conversations"] = await self._delete(
                delete(ConversationRow).where(ConversationRow.customer_id == customer)
            )
        # What the customer wrote about this order, and the receipt photos they sent for it.
        await session.execute(
            update(ConversationMessageRow)
            .where(ConversationMessageRow.order_id == order_id)
            .values(text="", author_name="", author_id=0)
        )
        counts["payment_receipts"] = await self._update(
            update(OrderPaymentRow)
            .where(OrderPaymentRow.order_id == order_id, OrderPaymentRow.file_id.is_not(None))
            .values(file_id=None)
        )
        await session.execute(
            update(ChatBindingTokenRow).where(ChatBindingTokenRow.order_id == order_id).values(chat_id=None)
        )
        # A refund's or payout's note is free text; its amounts, reasons and times stay (issue 13).
        await session.execute(update(MoneyOwedRow).where(MoneyOwedRow.order_id == order_id).values(note=""))
        counts["outbox_messages"] = await self._delete(delete(OutboxRow).where(outbox))
        counts["audit_lines"] = await self._update(
            update(OrderAuditRow).where(OrderAuditRow.order_id == order_id).values(note="")
        )
        await session.execute(
            update(OrderAuditRow)
            .where(OrderAuditRow.order_id == order_id, OrderAuditRow.actor_role == Role.CUSTOMER.value)
            .values(actor_id=None)
        )
        counts["review_questions"] = await self._update(
            update(ReviewQuestionRow)
            .where(ReviewQuestionRow.order_id == order_id)
            .values(question="", answer=None)
        )
        counts["exception_cases"] = await self._erase_cases(order_id)
        counts["survey_comments"] = await self._update(
            update(SurveyAnswerRow)
            .where(SurveyAnswerRow.order_id == order_id, SurveyAnswerRow.comment.is_not(None))
            .values(comment=None)
        )
        await session.execute(
            update(ApiIdempotencyRow)
            .where(ApiIdempotencyRow.order_id == order_id)
            .values(fingerprint=None, external_ref=None, idempotency_key=None)
        )
        await session.execute(
            update(OrderRow)
            .where(OrderRow.id == order_id)
            .values(
                customer_name="",
                customer_phone=None,
                customer_email=None,
                customer_telegram_user_id=None,
                address_city="",
                address_street="",
                address_postcode=None,
                address_area=None,
                items=_anonymous_items(order.items),
                shipment=_anonymous_shipment(order.shipment),
                remarks="",
                updated_at=at,
                version=OrderRow.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            insert(OrderAuditRow).values(
                order_id=order_id,
                at=at,
                actor_id=None,
                actor_role=Role.SYSTEM.value,
                action=ERASED_ACTION,
                from_status=order.status,
                to_status=order.status,
                note="",
            )
        )
        await session.execute(
            update(AftersalesRow)
            .where(AftersalesRow.order_id == order_id)
            .values(erased_at=at, survey_token=None)
        )
        return counts

    async def _other_orders_kept(self, customer: int, order_id: str) -> bool:
        """Whether the customer has another order whose data is still kept."""
        stmt = select(OrderRow.id).where(
            OrderRow.customer_telegram_user_id == customer,
            OrderRow.id != order_id,
            ~exists().where(
                and_(AftersalesRow.order_id == OrderRow.id, AftersalesRow.erased_at.is_not(None))
            ),
        )
        return (await self._session.scalar(stmt.limit(1))) is not None

    async def _delete(self, stmt: Any) -> int:
        """Runs a delete and returns how many rows it removed."""
        result = await self._session.execute(stmt.execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)

    _update = _delete

    async def record_retention_run(self, at: datetime, dry_run: bool, counts: Mapping[str, int]) -> None:
        """Audits one retention run as counts."""
        self._session.add(RetentionRunRow(at=at, dry_run=dry_run, counts=dict(counts)))
        await self._session.flush()
