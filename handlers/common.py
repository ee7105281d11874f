"""Commands every user has (/start, /help, /lang), the last-resort error reply and the stale-button toast."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.filters import Command, CommandStart, ExceptionTypeFilter
from aiogram.types import CallbackQuery, Chat, ErrorEvent, Message, ReplyKeyboardRemove, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from application.conversation import ChatLanguages, may_set_chat_language
from application.ports import UnitOfWork
from domain.clock import Clock
from domain.errors import OrderNotFound
from domain.orders.model import Order
from domain.orders.status import Role
from domain.sla.alerts import departments_of_chat
from handlers.intake_states import OrderWizard
from presentation.keyboards import (
    HELP,
    LANGUAGE_NAMES,
    N_,
    LanguageChoice,
    MenuButton,
    TeamLanguageChoice,
    language_picker,
    main_menu,
)
from presentation.labels import NOT_YOUR_ORDER

logger = logging.getLogger(__name__)

router = Router(name="common")
# Included after every other router: answers the buttons nobody else took.
fallback = Router(name="fallback")


@dataclass(frozen=True)
class CommandSpec:
    """A slash command as shown in /help and in Telegram's command menu."""

    name: str
    description: str
    # None: everybody, customers included.
    roles: frozenset[Role] | None = None

    def applies_to(self, roles: frozenset[Role]) -> bool:
        """Whether a user with these roles may use the command."""
        return self.roles is None or bool(self.roles & roles) or Role.ADMIN in roles


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", N_("Show the main menu")),
    CommandSpec("help", N_("List the commands you can use")),
    CommandSpec("lang", N_("Choose your language")),
)

DRAFT_KEPT = N_(
    "You are in the middle of entering an order, and I kept your answers. Answer the last question "
    "to go on, or send /cancel to drop the order."
)
NOT_A_TEAM_CHAT = N_("This group is not a team chat; /lang here sets nothing. Send /lang to me privately.")
TEAM_LANGUAGE_WHO = N_("Only an administrator or this team's head sets the team chat's language.")
TEAM_LANGUAGE_ASK = N_("Choose the language of this team chat's cards and alerts:")
TEAM_LANGUAGE_SET = N_("Done: cards and alerts in this chat are in {language} from now on.")

ROLE_NAMES: dict[Role, str] = {
    Role.ADMIN: N_("administrator"),
    Role.ORDER_DESK: N_("order desk"),
    Role.ORDER_DESK_HEAD: N_("order desk head"),
    Role.WAREHOUSE: N_("warehouse"),
    Role.LOGISTICS: N_("logistics"),
    Role.CUSTOMER_SERVICE: N_("customer service"),
    Role.FINANCE: N_("finance"),
    Role.MANAGEMENT: N_("management"),
}


def staff_roles(roles: frozenset[Role]) -> list[Role]:
    """Returns the user's staff roles in a stable order (customers have none)."""
    return [role for role in ROLE_NAMES if role in roles]


def _pressed_in_own_chat(query: CallbackQuery) -> bool:
    """Whether the button was pressed in the presser's own private chat."""
    message = query.message
    return isinstance(message, Message) and message.chat.id == query.from_user.id


async def own_chat_presser(query: CallbackQuery) -> User | None:
    """The presser, when the button was pressed in their own private chat; else the press is refused."""
    if _pressed_in_own_chat(query):
        return query.from_user
    await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
    return None


async def order_or_none(uow: UnitOfWork, order_id: str) -> Order | None:
    """The order of this id, None if there is none."""
    try:
        return await uow.orders.get(order_id)
    except OrderNotFound:
        return None


async def pressed_own_order(query: CallbackQuery, uow: UnitOfWork, order_id: str) -> Order | None:
    """The presser's own order a button names, pressed in their private chat; else the press is refused."""
    order = await order_or_none(uow, order_id)
    mine = order is not None and order.customer.telegram_user_id == query.from_user.id
    if not mine or not _pressed_in_own_chat(query):
        await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
        return None
    return order


@router.message(CommandStart())
async def start(
    message: Message,
    roles: frozenset[Role],
    uow: UnitOfWork,
    raw_state: str | None = None,
    clock: Clock | None = None,
) -> None:
    """Greets the user: staff with their roles, customers with the main menu (a draft under way is kept)."""
    name = html.escape(message.from_user.full_name if message.from_user else "")
    if staff_roles(roles) and message.from_user is not None and clock is not None:
        # /staff list and the cards name people by the name they last wrote under (issue 18).
        await uow.reviews.remember_name(message.from_user.id, message.from_user.full_name, clock.now())
    private = message.chat.type == ChatType.PRIVATE
    # aiogram has read the dialog state for this update already (raw_state): no second read.
    if private and raw_state in OrderWizard.__all_states_names__:
        # The draft is not thrown away behind the user's back: they choose with /cancel (issue 18).
        await message.answer(_(DRAFT_KEPT))
        return
    staff = staff_roles(roles)
    if staff:
        text = _("Hello, {name}. You work here as: {roles}. Send /help to see your commands.").format(
            name=name, roles=", ".join(_(ROLE_NAMES[role]) for role in staff)
        )
        await message.answer(text, reply_markup=ReplyKeyboardRemove() if private else None)
    elif private:
        text = _(
            "Hello, {name}! Welcome to OrderDesk. Place an order, follow your orders or ask for help "
            "with the menu below."
        ).format(name=name)
        await message.answer(text, reply_markup=main_menu())
    else:
        text = _("Hello, {name}! Write to me in a private chat to place and follow your orders.").format(
            name=name
        )
        await message.answer(text)


@router.message(Command("help"))
@router.message(MenuButton(HELP))
async def show_help(message: Message, roles: frozenset[Role], command_specs: Sequence[CommandSpec]) -> None:
    """Lists the commands the user's roles allow."""
    lines = [_("Commands you can use:")]
    # Descriptions such as "/order <reference or number>" carry angle brackets: escape them for HTML.
    lines += [
        f"/{spec.name} — {html.escape(_(spec.description))}"
        for spec in command_specs
        if spec.applies_to(roles)
    ]
    await message.answer("\n".join(lines))


@router.message(Command("lang"))
async def choose_language(
    message: Message,
    roles: frozenset[Role],
    team_chats: Mapping[str, int] | None = None,
    chat_languages: ChatLanguages | None = None,
) -> None:
    """Offers the languages as buttons: the user's own, or in a team chat the chat's (issue 18)."""
    if message.chat.type == ChatType.PRIVATE:
        await message.answer(_("Choose your language:"), reply_markup=language_picker())
        return
    departments = departments_of_chat(message.chat.id, team_chats or {})
    if chat_languages is None or not departments:
        await message.answer(_(NOT_A_TEAM_CHAT))
        return
    if not may_set_chat_language(roles, departments):
        await message.answer(_(TEAM_LANGUAGE_WHO))
        return
    await message.answer(_(TEAM_LANGUAGE_ASK), reply_markup=language_picker(TeamLanguageChoice))


@router.callback_query(TeamLanguageChoice.filter())
async def set_team_language(
    query: CallbackQuery,
    callback_data: TeamLanguageChoice,
    uow: UnitOfWork,
    i18n: I18n,
    roles: frozenset[Role],
    team_chats: Mapping[str, int] | None = None,
    chat_languages: ChatLanguages | None = None,
) -> None:
    """Saves a team chat's language, checking the presser's roles again, and confirms in it."""
    message = query.message
    code = callback_data.code
    if not isinstance(message, Message) or chat_languages is None or code not in LANGUAGE_NAMES:
        await query.answer(_("This button is no longer valid."))
        return
    departments = departments_of_chat(message.chat.id, team_chats or {})
    if not departments or not may_set_chat_language(roles, departments):
        await query.answer(_(TEAM_LANGUAGE_WHO), show_alert=True)
        return
    await chat_languages.set_language(uow, message.chat.id, code)
    await query.answer()
    with i18n.use_locale(code):
        await message.edit_text(_(TEAM_LANGUAGE_SET).format(language=LANGUAGE_NAMES[code]))


@router.callback_query(LanguageChoice.filter())
async def set_language(
    query: CallbackQuery,
    callback_data: LanguageChoice,
    uow: UnitOfWork,
    i18n: I18n,
    roles: frozenset[Role],
) -> None:
    """Saves the chosen language and confirms in it."""
    code = callback_data.code
    if code not in i18n.available_locales or code not in LANGUAGE_NAMES:
        await query.answer(_("This language is not available."), show_alert=True)
        return
    await uow.users.set_language(query.from_user.id, code)
    with i18n.use_locale(code):
        text = _("Done: I will speak {language} with you from now on.").format(language=LANGUAGE_NAMES[code])
        message = query.message
        if not isinstance(message, Message):
            await query.answer(text, show_alert=True)
            return
        await query.answer()
        if message.chat.type == ChatType.PRIVATE and not staff_roles(roles):
            # The reply keyboard carries labels in the old language, so it is sent again.
            await message.edit_reply_markup(reply_markup=None)
            await message.answer(text, reply_markup=main_menu())
        else:
            await message.edit_text(text)


# Flood control is not a failure of the update: the runtime runs the update again once it lifts.
@router.errors(~ExceptionTypeFilter(TelegramRetryAfter))
async def apologise(
    event: ErrorEvent, bot: Bot, event_chat: Chat | None = None, event_from_user: User | None = None
) -> None:
    """Logs the failure once and tells the user, never a group, that nothing was changed."""
    update = event.update
    # Only ids and the exception: message texts and names are personal data.
    logger.error(
        "Update %s (%s) failed: %s",
        update.update_id,
        update.event_type,
        type(event.exception).__name__,
        exc_info=event.exception,
    )
    text = _("Something went wrong on our side; please try again. Nothing was changed.")
    query = update.callback_query
    private = event_chat is not None and event_chat.type == ChatType.PRIVATE
    if private and event_chat is not None:
        chat_id: int | None = event_chat.id
    elif query is None and event_from_user is not None and not event_from_user.is_bot:
        # A message that failed in a group: the apology goes to the user's private chat.
        chat_id = event_from_user.id
    else:
        chat_id = None
    try:
        if query is not None:
            # In a group the toast is the whole reply; in a private chat the message follows.
            await bot.answer_callback_query(query.id, None if private else text, show_alert=not private)
        if chat_id is not None:
            await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        # E.g. the user never opened a private chat with the bot (403).
        logger.warning("Could not tell chat %s about the failure: %s", chat_id, type(error).__name__)


@fallback.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    """Answers a button no router took (unknown or stale data) with a short toast."""
    await query.answer(_("This button is no longer valid."))
