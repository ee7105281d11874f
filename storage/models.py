"""Database tables (SQLAlchemy 2 declarative); rows only, the domain model lives in domain/."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC and read back as aware UTC, also on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuses naive datetimes and converts aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLite keeps no offset; every stored value is UTC, re-attached on read.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Returns the value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JsonDocument = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(12, 2, asdecimal=True)


def utcnow() -> datetime:
    """Returns the current UTC time for technical timestamps (row creation)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with the shared metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute as is
        datetime: UtcDateTime(),
        date: Date(),
        Decimal: Money,
        dict[str, Any]: JsonDocument,
        list[dict[str, Any]]: JsonDocument,
    }


class OrderRow(Base):
    """One order; `version` is the optimistic lock checked on every update."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    resume_status: Mapped[str | None] = mapped_column(String(32))
    exception_type: Mapped[str | None] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(32))
    customer_email: Mapped[str | None] = mapped_column(String(254))
    customer_telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    customer_language: Mapped[str] = mapped_column(String(8))
    customer_business: Mapped[bool] = mapped_column(Boolean, default=False)
    address_country: Mapped[str] = mapped_column(String(2))
    address_city: Mapped[str] = mapped_column(String(200))
    address_street: Mapped[str] = mapped_column(String(500))
    address_postcode: Mapped[str | None] = mapped_column(String(20))
    address_area: Mapped[str | None] = mapped_column(String(200))
    items: Mapped[list[dict[str, Any]]]
    # What execution recorded (carrier, waybill, courier...: domain.model.Shipment); NULL until then.
    shipment: Mapped[dict[str, Any] | None]
    payment_method: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    # What is left to pay after a price rise of a paid order, and the order's changes (R-6.2, issue 13).
    outstanding: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    changes: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDocument, nullable=True)
    remarks: Mapped[str] = mapped_column(Text, default="")
    # What the customer asks beyond the goods: [{kind, note}], a date, service names.
    special_requests: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDocument, nullable=True)
    delivery_by: Mapped[date | None]
    special_services: Mapped[list[str] | None] = mapped_column(JsonDocument, nullable=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_by: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer)

    audit: Mapped[list[OrderAuditRow]] = relationship(
        back_populates="order", order_by="OrderAuditRow.id", lazy="raise", cascade="all, delete-orphan"
    )
    clocks: Mapped[list[OrderClockRow]] = relationship(
        back_populates="order", order_by="OrderClockRow.id", lazy="raise", cascade="all, delete-orphan"
    )

    # The order repository (storage/order_repository.py) writes with Core statements that check the
    # version themselves; the mapper adds the same "WHERE version = <read>" to any ORM update.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


class OrderAuditRow(Base):
    """One line of an order's audit trail (R-P traceability)."""

    __tablename__ = "order_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")

    order: Mapped[OrderRow] = relationship(back_populates="audit", lazy="raise")


class OrderClockRow(Base):
    """One SLA clock of an order; sweeps scan open clocks by due time."""

    __tablename__ = "order_clocks"
    __table_args__ = (Index("ix_order_clocks_open_due", "finished_at", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    met: Mapped[bool | None] = mapped_column(Boolean)
    paused_at: Mapped[datetime | None]
    # When this clock's warning and breach were alerted (issue 17): the sweeps skip alerted clocks
    # without reading sla_alerts; set in the transaction that records the alert.
    warning_alerted_at: Mapped[datetime | None]
    breach_alerted_at: Mapped[datetime | None]

    order: Mapped[OrderRow] = relationship(back_populates="clocks", lazy="raise")


class OrderNumberCounterRow(Base):
    """The last serial handed out per business day (R-3.3)."""

    __tablename__ = "order_number_counters"

    day: Mapped[date] = mapped_column(primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer)


class ProcessedUpdateRow(Base):
    """A Telegram update already handled; redelivery is ignored."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboxUpdateRow(Base):
    """A Telegram update received and not yet processed: stored before Telegram is told it arrived."""

    __tablename__ = "inbox_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The update exactly as Telegram sent it (JSON text).
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    # Processing runs begun; a run a crash interrupted leaves its count behind.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Until when the instance that took the update is processing it; after that another may (issue 17).
    leased_until: Mapped[datetime | None]
    # The replies of a run that committed, until they are sent (JSON; bot.replies).
    replies: Mapped[str | None] = mapped_column(Text)


class OutboxRow(Base):
    """A Bot API call waiting to be sent by the outbox sender."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    # No foreign key: messages outlive orders removed by retention.
    order_id: Mapped[str | None] = mapped_column(String(36), index=True)
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    # pending -> sent | failed (gave up) | blocked (the user blocked the bot)
    state: Mapped[str] = mapped_column(String(16), default="pending")


class StaffRoleRow(Base):
    """One role held by one Telegram user."""

    __tablename__ = "staff_roles"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_by: Mapped[int | None] = mapped_column(BigInteger)
    granted_at: Mapped[datetime]


class StaffAuditRow(Base):
    """Who granted or revoked which role of whom, and when."""

    __tablename__ = "staff_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))


class UserRow(Base):
    """What the bot remembers of a Telegram user."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str | None] = mapped_column(String(8))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)


class FsmStateRow(Base):
    """aiogram FSM state and data of one storage key."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Running clocks by stage and due time: the warning sweep, /sla and the digest ask per stage.
Index(
    "ix_order_clocks_running_stage_due",
    OrderClockRow.stage,
    OrderClockRow.due_at,
    postgresql_where=OrderClockRow.finished_at.is_(None),
    sqlite_where=OrderClockRow.finished_at.is_(None),
)
# Running, unpaused clocks not yet alerted as breached, by due time: the breach sweep (issue 17).
Index(
    "ix_order_clocks_unalerted_breach_due",
    OrderClockRow.due_at,
    OrderClockRow.id,
    postgresql_where=text("finished_at IS NULL AND paused_at IS NULL AND breach_alerted_at IS NULL"),
    sqlite_where=text("finished_at IS NULL AND paused_at IS NULL AND breach_alerted_at IS NULL"),
)


class SlaAlertRow(Base):
    """A warning or breach alert about one stage clock; each is recorded (and sent) once."""

    __tablename__ = "sla_alerts"
    __table_args__ = (
        # clock_id first: the sweeps look alerts up by clock.
        UniqueConstraint("clock_id", "kind", "order_id"),
        Index(
            "ix_sla_alerts_pending_escalation",
            "escalation_level",
            "created_at",
            postgresql_where=text("acknowledged_at IS NULL AND kind = 'breach'"),
            sqlite_where=text("acknowledged_at IS NULL AND kind = 'breach'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("order_clocks.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    batch: Mapped[str | None] = mapped_column(String(32), index=True)
    acknowledged_by: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_by_name: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None]


class TrackingLogRow(Base):
    """One progress digest of the order desk (R-5.1, 09:00 and 15:00): the day's tracking log."""

    __tablename__ = "tracking_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # e.g. "2026-03-16T09:00+08:00": one digest per slot, however many instances run.
    slot: Mapped[str] = mapped_column(String(40), unique=True)
    at: Mapped[datetime]
    content: Mapped[dict[str, Any]]


class TeamChatRow(Base):
    """The chat of one department: seeded from the configuration, moved when the group migrates."""

    __tablename__ = "team_chats"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Not unique: several departments may share one group.
    chat_id: Mapped[int] = mapped_column(BigInteger)
    # The configured id the row was seeded from: a changed configuration wins over a past migration.
    configured_chat_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
    # The language cards and alerts in this chat are written in (/lang in the group); None: the default.
    language: Mapped[str | None] = mapped_column(String(8))


class ApiIdempotencyRow(Base):
    """An order the platform API created: the key that created it and its Idempotency-Key, if sent."""

    __tablename__ = "api_idempotency"
    # NULL idempotency keys never collide, so requests without the header each get an order.
    __table_args__ = (UniqueConstraint("key_name", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_name: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the canonical request body.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    external_ref: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class ReviewQuestionRow(Base):
    """A reviewer's question to a customer; the answer is relayed into the review card's thread."""

    __tablename__ = "review_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    asked_by: Mapped[int] = mapped_column(BigInteger)
    asked_at: Mapped[datetime]
    question: Mapped[str] = mapped_column(Text)
    card_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)


class OrderDocumentRow(Base):
    """A generated document of an order (the confirmation PDF); the outbox sender uploads it by id."""

    __tablename__ = "order_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class StaffNameRow(Base):
    """The display name a staff member last acted under, for "already handled by <name>"."""

    __tablename__ = "staff_names"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


# KPI and supervision queries (issue 16): each reads one month by a range on its own index.
Index("ix_orders_created_at", OrderRow.created_at)
# Orders of a status oldest first (the sweep's cancelled orders, R-7.1), filter and order in one index.
Index("ix_orders_status_created_at", OrderRow.status, OrderRow.created_at, OrderRow.id)
# Errors, completions and exceptions of a month by action and time, the order id within the index.
Index("ix_order_audit_action_at", OrderAuditRow.action, OrderAuditRow.at, OrderAuditRow.order_id)
# Clocks closed in a month per stage, met or not, read from the index alone.
Index("ix_order_clocks_finished_stage_met", OrderClockRow.finished_at, OrderClockRow.stage, OrderClockRow.met)
Index("ix_sla_alerts_created_at", SlaAlertRow.created_at)
# Alerts acknowledged or escalated in a month; an alert enters each only once it has the moment.
Index(
    "ix_sla_alerts_acknowledged_at",
    SlaAlertRow.acknowledged_at,
    postgresql_where=text("acknowledged_at IS NOT NULL"),
    sqlite_where=text("acknowledged_at IS NOT NULL"),
)
Index(
    "ix_sla_alerts_escalated_at",
    SlaAlertRow.escalated_at,
    postgresql_where=text("escalated_at IS NOT NULL"),
    sqlite_where=text("escalated_at IS NOT NULL"),
)


class ExceptionCaseRow(Base):
    """An exception case (R-6): its type and cause, who handles it, when it opened and closed, the verdict.

    The minimum the KPIs and the supervision report read (issue 16); the exceptions issue adds the
    evidence, handling steps, result and compensation.
    """

    __tablename__ = "exception_cases"
    __table_args__ = (
        Index("ix_exception_cases_opened_at", "opened_at"),
        Index("ix_exception_cases_closed_at", "closed_at"),
        Index("ix_exception_cases_type_opened_at", "type", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # domain.orders.status.ExceptionType
    type: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str | None] = mapped_column(String(64))
    # The department handling the case: its exception satisfaction counts the answer.
    department: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # The customer's one-tap answer on closing: NULL until answered.
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None]
    # The case record of issue 14 (migration 0018): note, evidence, trail, result and record.
    note: Mapped[str | None] = mapped_column(Text)
    opened_by: Mapped[int | None] = mapped_column(BigInteger)
    # {"files": [{"file_id", "kind", "from_customer"}], "items": [...]}
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    # [{"at", "kind", "actor_id", "role", "note", "files"}], oldest first.
    steps: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDocument)
    new_eta: Mapped[datetime | None]
    customs_needs: Mapped[str | None] = mapped_column(Text)
    # {"kind", "amount", "currency", "offered_at", "offered_by", "accepted_at", "applied_at"}
    compensation: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    result: Mapped[str | None] = mapped_column(String(32))
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    record: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime | None]
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    feedback: Mapped[str | None] = mapped_column(Text)


class SurveyAnswerRow(Base):
    """A customer's follow-up survey answer (R-7.2); a complaint counts against the complaint rate.

    The minimum the KPIs read (issue 16); the survey issue adds the comment and the answer's lock.
    """

    __tablename__ = "survey_answers"
    __table_args__ = (
        # The complaints, few among the answers: the complaint rate joins them to the month's completions.
        # The predicates read as SQLAlchemy writes `complaint IS true` on each database, so both use it.
        Index(
            "ix_survey_answers_complaints",
            "order_id",
            postgresql_where=text("complaint IS TRUE"),
            sqlite_where=text("complaint IS 1"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # 1 to 5
    rating: Mapped[int] = mapped_column(Integer)
    # A rating of 2 or less, or a comment marked as a complaint.
    complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(index=True)
    # The survey issue's additions (migration 0012): the optional comment, whether the customer marked
    # it as a complaint, and when the answer last changed (it locks SURVEY_EDITABLE_FOR after answered_at).
    comment: Mapped[str | None] = mapped_column(Text)
    marked_complaint: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    changed_at: Mapped[datetime | None]


class ReportDocumentRow(Base):
    """A generated report of no single order (the supervision report); the outbox sender uploads it by id."""

    __tablename__ = "report_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # e.g. supervision_pdf, supervision_xlsx
    kind: Mapped[str] = mapped_column(String(32))
    # The month reported, YYYY-MM.
    period: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class ChatBindingTokenRow(Base):
    """A one-time link token that binds the Telegram chat opening it to an order (issue 12)."""

    __tablename__ = "chat_binding_tokens"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    chat_id: Mapped[int | None] = mapped_column(BigInteger)


class ChatConsentRow(Base):
    """A customer's consent that their later orders with the same phone or email go to their chat."""

    __tablename__ = "chat_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    agreed_at: Mapped[datetime]


class AftersalesRow(Base):
    """What the after-sales flows keep about one completed order (R-7): survey, archive, erasure."""

    __tablename__ = "order_aftersales"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(index=True)
    # The survey's deep-link token (/start survey-<token>); NULL until sent and after erasure.
    survey_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    survey_sent_at: Mapped[datetime | None]
    survey_reminded_at: Mapped[datetime | None]
    # The customer has neither Telegram nor email: no survey can reach them.
    survey_unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(index=True)
    erased_at: Mapped[datetime | None]


class OrderArchiveRow(Base):
    """An order's archive ZIP: in the database (content) or in ARCHIVE_DIR (path)."""

    __tablename__ = "order_archives"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


class RetentionRunRow(Base):
    """One run of the retention job, audited as counts only (R-7.3)."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    dry_run: Mapped[bool] = mapped_column(Boolean)
    counts: Mapped[dict[str, Any]]


class ConversationRow(Base):
    """A customer's thread with customer service (R-5.2): one per customer, continued both ways."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    # The language the customer last wrote in, for the answers.
    language: Mapped[str] = mapped_column(String(8))
    opened_at: Mapped[datetime]


class ConversationMessageRow(Base):
    """One message of a conversation; a customer's carries its answer clock (due, answered, met)."""

    __tablename__ = "conversation_messages"
    __table_args__ = (Index("ix_conversation_messages_conversation_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    from_customer: Mapped[bool] = mapped_column(Boolean)
    author_id: Mapped[int] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    # What the customer asked for by button (cancel, change, problem, where), and about which order.
    intent: Mapped[str | None] = mapped_column(String(32))
    order_id: Mapped[str | None] = mapped_column(String(36))
    due_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    met: Mapped[bool | None] = mapped_column(Boolean)


# A staff member's reply names the card by chat and Telegram message id (issue 18).
Index("ix_outbox_chat_id_telegram_message_id", OutboxRow.chat_id, OutboxRow.telegram_message_id)


class OrderPaymentRow(Base):
    """One payment of an order (issue 12): a Telegram charge (once per charge id), a receipt, a platform's."""

    __tablename__ = "order_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    # A redelivered successful_payment carries the same charge id: the unique key records it once.
    telegram_payment_charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    provider_payment_charge_id: Mapped[str | None] = mapped_column(String(255))
    file_id: Mapped[str | None] = mapped_column(String(255))
    file_kind: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None]
    refusal: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class MoneyOwedRow(Base):
    """A refund or payout the company owes a customer (issue 13, R-6.1, R-6.4), open until paid."""

    __tablename__ = "money_owed"
    __table_args__ = (Index("ix_money_owed_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(32))
    payment_source: Mapped[str | None] = mapped_column(String(16))
    telegram_payment_charge_id: Mapped[str | None] = mapped_column(String(255))
    provider_payment_charge_id: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    case_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(8))
    paid_reference: Mapped[str | None] = mapped_column(String(200))
    paid_at: Mapped[datetime | None]
    paid_by: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime | None]


class CancellationRow(Base):
    """A cancellation of an order by its customer or the company (issue 13, R-6.1) and where it stands."""

    __tablename__ = "cancellations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime]
    requested_by: Mapped[int | None] = mapped_column(BigInteger)
    consent: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    share_percent: Mapped[Decimal | None]
    charge: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3), default="")
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    refund: Mapped[Decimal | None]
    other_service_offered: Mapped[bool] = mapped_column(Boolean, default=True)


class ImprovementActionRow(Base):
    """An improvement action the order desk recorded against a cause (issue 14, R-6.5 monthly review)."""

    __tablename__ = "improvement_actions"
    # The report reads the actions of a month (and of the month before) by time.
    __table_args__ = (Index("ix_improvement_actions_recorded_at", "recorded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The cause as the cause list names it: an exception type and one of its causes.
    exception_type: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime]


class ExceptionReportRunRow(Base):
    """A month whose scheduled exception report was queued for the management chat (once per month)."""

    __tablename__ = "exception_report_runs"

    # YYYY-MM
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(8))
    queued_at: Mapped[datetime]


# The exception report sums the payouts paid in a month by their time.
Index("ix_money_owed_paid_at", MoneyOwedRow.paid_at)
