"""Staff management for admins: /staff add|remove <telegram user id> <role>, /staff list (issue 4)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from application.ports import UnitOfWork
from application.review import ReviewSetup
from domain.orders.status import Role
from handlers.common import ROLE_NAMES, CommandSpec
from presentation.ids import MAX_TELEGRAM_USER_ID, parse_id
from presentation.keyboards import N_
from presentation.render import esc

router = Router(name="staff")

ADMINS = frozenset({Role.ADMIN})
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("staff", N_("Manage staff: /staff add|remove <user id> <role>, /staff list"), ADMINS),
)
STAFF_ROLES = tuple(ROLE_NAMES)


def usage() -> str:
    """How to use /staff, with the role names (its <placeholders> escaped for HTML)."""
    return esc(
        _("Usage: /staff add <user id> <role>, /staff remove <user id> <role>, /staff list\nRoles: {roles}")
    ).format(roles=esc(", ".join(role.value for role in STAFF_ROLES)))


@router.message(Command("staff"))
async def manage_staff(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    review_setup: ReviewSetup,
) -> None:
    """Grants, revokes or lists staff roles; only admins, and every change is audited."""
    user = message.from_user
    if user is None or Role.ADMIN not in roles:
        await message.answer(_("Only administrators can manage staff."))
        return
    args = (command.args or "").split()
    if args == ["list"]:
        await message.answer(await staff_list(uow))
        return
    if len(args) != 3 or args[0] not in ("add", "remove"):
        await message.answer(usage())
        return
    target = parse_id(args[1], MAX_TELEGRAM_USER_ID)
    if target is None:
        await message.answer(
            _("“{value}” is not a Telegram user id: write it with the digits 0-9, e.g. 123456789.").format(
                value=esc(args[1][:32])
            )
        )
        return
    try:
        role = Role(args[2].lower())
    except ValueError:
        role = None
    if role not in STAFF_ROLES:
        await message.answer(usage())
        return
    now = review_setup.clock.now()
    if args[0] == "add":
        changed = await uow.staff.grant(target, role, by=user.id, at=now)
        text = _("{user} is now {role}.") if changed else _("{user} already was {role}.")
    else:
        changed = await uow.staff.revoke(target, role, by=user.id, at=now)
        text = _("{user} is no longer {role}.") if changed else _("{user} was not {role}.")
    await message.answer(text.format(user=target, role=_(ROLE_NAMES[role])))


async def staff_list(uow: UnitOfWork) -> str:
    """Lists every staff member with their roles."""
    staff = await uow.staff.list_all()
    if not staff:
        return _("Nobody holds a staff role yet.")
    lines = [f"<b>{_('Staff')}</b>"]
    for user_id, held in sorted(staff.items()):
        names = ", ".join(_(ROLE_NAMES[role]) for role in STAFF_ROLES if role in held)
        known = await uow.reviews.name_of(user_id)
        shown = esc(known) if known else _("name not known yet: they have not written to the bot")
        label = f"<code>{user_id}</code> ({shown})"
        lines.append(f"• {label}: {names}")
    return "\n".join(lines)
