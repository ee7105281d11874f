"""What every typed dialog step reads first (issue 10): the sender, the text, the dialog's data.

A dialog step is the message that answers a question the bot asked by setting an FSM state
(finance's reference and time, a case's values, a change's fields, a cancellation's share or
reason, a claim's photos). Each begins the same way: a command stops the dialog, the staff name is
kept, a blank or too long text is asked for again; dialog_step does it once for all of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StateType
from aiogram.types import ForceReply, Message, User
from aiogram.utils.i18n import gettext as _

from presentation.render import Translate


async def move_dialog(state: FSMContext, dialog: StateType, data: dict[str, Any]) -> None:
    """Sets a dialog's state and data, in one write where the storage offers one (issue 17).

    aiogram's FSMContext writes them one after the other; the database storage's `set_dialog`
    writes both in one upsert. A storage without it (Redis, memory) gets aiogram's two calls.
    """
    set_dialog = getattr(state.storage, "set_dialog", None)
    if set_dialog is None:
        await state.set_state(dialog)
        await state.set_data(data)
        return
    await set_dialog(state.key, dialog, data)


@dataclass(frozen=True)
class DialogStep:
    """The message a dialog step answers: who sent it, its text and the dialog's data."""

    user: User
    text: str
    data: dict[str, Any]


async def dialog_step(
    message: Message,
    state: FSMContext,
    *,
    t: Translate | None = None,
    stop: str | None = None,
    stop_on: str = "/",
    remember: Callable[[User], Awaitable[None]] | None = None,
    strip: bool = False,
    empty: str | None = None,
    limit: int | None = None,
    too_long: str = "",
    reply: bool = False,
    again: ForceReply | None = None,
) -> DialogStep | None:
    """Reads a dialog step's message, or answers it and returns None when the step cannot go on.

    `stop` (a msgid) ends the dialog on a text starting with `stop_on`; `remember` keeps the
    sender's name; `empty` and `too_long` (msgids that may name {limit}) ask again, with the
    `again` markup, for a blank text or one longer than `limit`. Texts are translated with `t`
    (the user's language by default) and sent as a reply when `reply`, else as a plain answer.
    """
    translate = t or _

    async def say(text: str, markup: ForceReply | None = None) -> None:
        """Sends the step's answer the way this dialog talks."""
        if reply:
            await message.reply(text, reply_markup=markup)
        else:
            await message.answer(text, reply_markup=markup)

    text = message.text or ""
    if strip:
        text = text.strip()
    if stop is not None and text.startswith(stop_on):
        await state.clear()
        await say(translate(stop))
        return None
    user = message.from_user
    if user is None:
        return None
    if remember is not None:
        await remember(user)
    if empty is not None and not text.strip():
        await say(translate(empty).format(limit=limit), again)
        return None
    if limit is not None and len(text) > limit:
        await say(translate(too_long).format(limit=limit), again)
        return None
    return DialogStep(user, text, await state.get_data())
