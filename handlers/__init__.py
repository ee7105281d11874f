"""Chat handlers: one Router per module, collected here."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    archive,
    binding,
    cancellation,
    change_desk,
    changes,
    claims,
    common,
    conversation,
    exception_dialogs,
    exception_report,
    exceptions,
    execution,
    finance,
    intake,
    intake_confirm,
    intake_fix,
    kpi,
    my_orders,
    offline,
    orders,
    outbox,
    payment,
    review,
    service_changes,
    sla,
    staff,
    survey,
    tracking,
)
from handlers.common import CommandSpec
from handlers.routing import IndexedRouter

# Routers in matching order; common goes last so its catch-all error reply runs after the modules' own,
# and then the fallback, which answers the buttons nobody took. my_orders and offline come before
# intake, whose wizard takes any text while an order is entered; the preview's Confirm
# (intake_confirm) comes before the wizard's other buttons.
# archive (the /track of an erased order) comes before my_orders, survey (its /start deep link)
# before common's /start and before the wizard's text. conversation answers what is left
# (free text, unknown commands, replies to conversation cards) before the fallback.
MODULE_ROUTERS: tuple[Router, ...] = (
    # `/start <token>` binds a chat to an order before common's plain /start greets (issue 12).
    binding.router,
    # Exception dialogs (issue 14) answer only in their own states, before any module's free text or photo:
    # marking and the case buttons, then the values those buttons ask for (a time, a text, a document).
    exceptions.router,
    exception_dialogs.router,
    archive.router,
    # A claim's photos (in its photo state) before payment's receipt photos and the wizard (issue 14).
    claims.router,
    survey.router,
    my_orders.router,
    # The change flow's steps take text while a change is entered, before the intake wizard (issue 13);
    # the service change's quotes and Agree, and the order desk's Apply, are its buttons.
    changes.router,
    service_changes.router,
    change_desk.router,
    offline.router,
    staff.router,
    payment.router,
    finance.router,
    # Cancellations (issue 13): /cancel outside any dialog, the Cancel button, every step's button.
    cancellation.router,
    review.router,
    orders.router,
    sla.router,
    outbox.router,
    kpi.router,
    # /exceptions, /improve and the text of a pending improvement action (before the wizard's text).
    exception_report.router,
    execution.router,
    tracking.router,
    intake_confirm.router,
    intake_fix.router,
    intake.router,
    common.router,
    conversation.router,
    common.fallback,
)


def build_root_router() -> Router:
    """Returns a fresh root router holding every module's router, indexed by what each can match."""
    root = IndexedRouter(name="root")
    for module_router in MODULE_ROUTERS:
        # aiogram lets a router have one parent; a new dispatcher (each test, each run) takes it over.
        previous = module_router.parent_router
        if previous is not None:
            previous.sub_routers.remove(module_router)
            module_router._parent_router = None
        root.include_router(module_router)
    root.index()
    return root


def all_commands() -> tuple[CommandSpec, ...]:
    """Lists every module's slash commands, for /help and Telegram's command menus."""
    return (
        common.COMMANDS
        + intake.COMMANDS
        + my_orders.COMMANDS
        + offline.COMMANDS
        + review.COMMANDS
        + orders.COMMANDS
        + staff.COMMANDS
        + sla.COMMANDS
        + kpi.COMMANDS
        + exception_report.COMMANDS
        + tracking.COMMANDS
        + outbox.COMMANDS
        + archive.COMMANDS
        + exceptions.COMMANDS
        + finance.COMMANDS
        + changes.COMMANDS
        + cancellation.COMMANDS
    )
