"""The survey reaches a customer without Telegram by email, through the production routing (R-7.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from application.aftersales_ports import AftersalesSettings, AftersalesSetup
from application.customer_channels import EMAIL_METHOD, CustomerChannels
from application.notifications import Notice, NoticeKind, notices_for
from application.notifier import build_notifier
from bot.app import bindings_of, platform_of
from bot.i18n import create_i18n
from domain.aftersales.events import SurveySent
from domain.clock import FixedClock
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from presentation.documents import CompanyDetails, ConfirmationDocuments
from presentation.email_texts import EmailNotices
from presentation.notifications import TelegramNotices, fixed_team_chats
from presentation.survey_texts import AftersalesNotices
from storage.models import OutboxRow
from tests.aftersales.conftest import (
    CS_CHAT,
    DESK_CHAT,
    EMAIL,
    POLICY,
    TZ,
    Uows,
    complete_and_survey,
    delivered_order,
)
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory  # noqa: F401


def emailing_setup(clock: FixedClock, archive_dir: Path) -> AftersalesSetup:
    """The after-sales setup with the notifier wired as the composition root wires it, email on."""
    i18n = create_i18n("en")
    sla = SlaContext(load_policy(), BusinessCalendar(TZ))
    documents = ConfirmationDocuments(CompanyDetails(), TZ, sla)
    channels = CustomerChannels(
        email=EmailNotices(i18n, documents),
        bindings_of=bindings_of,
        bot_username="OrderDeskBot",
        platform_of=platform_of,
        webhooks=frozenset(),
        sla=sla,
    )
    renderer = AftersalesNotices(TelegramNotices(i18n, TZ, POLICY, documents), i18n, "OrderDeskBot")
    teams = fixed_team_chats({"customer_service": CS_CHAT, "order_desk": DESK_CHAT})
    handlers = build_notifier(renderer, teams, channels=channels)
    settings = AftersalesSettings(archive_dir=str(archive_dir), timezone=TZ)
    return AftersalesSetup(clock, sla, handlers, settings)


async def test_a_customer_without_telegram_gets_the_survey_by_email_with_its_link(
    new_uow: Uows,  # noqa: F811
    tmp_path: Path,
) -> None:
    clock = FixedClock(datetime(2026, 3, 19, 2, 1, tzinfo=UTC))
    setup = emailing_setup(clock, tmp_path)
    order_id = await delivered_order(new_uow, telegram_user_id=None)

    assert await complete_and_survey(new_uow, clock, setup) == 1

    async with new_uow() as uow:
        order = await uow.orders.get(order_id)
        record = await uow.aftersales.get(order_id)
        rows = await uow.session.scalars(
            select(OutboxRow).where(OutboxRow.order_id == order_id, OutboxRow.method == EMAIL_METHOD)
        )
        emails = [row.params for row in rows.all()]
    assert record is not None and record.survey_token and order.customer.email == EMAIL
    token = record.survey_token
    # The survey is a customer notice like any other: the routing, not the survey, picks email.
    event = SurveySent("e", order_id, clock.now(), token)
    assert notices_for(event, order) == [Notice(NoticeKind.SURVEY)]
    assert [line.action for line in order.audit][-1] == "survey_sent"
    assert [c.met for c in order.clocks if c.stage == "survey"] == [True]
    surveys = [email for email in emails if f"start=survey-{token}" in email["text"]]
    assert len(surveys) == 1
    (survey,) = surveys
    assert survey["to"] == EMAIL
    assert f"https://t.me/OrderDeskBot?start=survey-{token}" in survey["html"]
