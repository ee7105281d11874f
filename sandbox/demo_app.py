"""The demo page: a Telegram client emulator in the browser, driving a FakeBotApi as its users.

The page (static files in ``sandbox/web/``) shows every chat of the sandbox and lets a visitor act
as any user of the cast: send text, press inline and reply-keyboard buttons, upload photos and
documents. The state travels to the page as JSON, pushed by server-sent events whenever something
changes; message text goes out as plain text plus the entity list of Telegram's own parsing, so the
page builds the formatting with DOM nodes and never injects the bot's HTML.

What is not the Bot API (the bot's clock and starting over) comes from ``DemoHooks``, the callbacks
the composition root injects: this package imports nothing of the bot.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from sandbox.server import FakeBotApi, FakeChat, FakeUser

Json = dict[str, Any]

WEB_DIR = Path(__file__).resolve().parent / "web"
# Steps of the clock control, in the order the page shows them.
FAST_FORWARD_STEPS: dict[str, str] = {"hour": "+1 h", "working_day": "+1 working day"}
# How often the event stream looks for changes, and how many messages of a chat the page gets.
POLL_SECONDS = 0.1
MESSAGES_PER_CHAT = 200
CALLBACK_ANSWERS_SHOWN = 20
SAFE_LINK_SCHEMES = ("http://", "https://", "mailto:", "tg://")
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@dataclass(frozen=True)
class DemoPerson:
    """Someone the visitor can act as: a customer or a staff member, with a private chat."""

    user: FakeUser
    kind: str
    roles: tuple[str, ...] = ()
    label: str = ""
    # The tab the page opens when the visitor picks this person: "private" or a team chat key.
    home: str = "private"

    def to_json(self) -> Json:
        """Returns the person as the page lists them."""
        name = " ".join(part for part in (self.user.first_name, self.user.last_name) if part)
        return {
            "id": self.user.id,
            "name": name,
            "kind": self.kind,
            "roles": list(self.roles),
            "label": self.label or name,
            "language": self.user.language_code,
            "home": self.home,
        }


@dataclass(frozen=True)
class DemoTeamChat:
    """A team group chat of the demo: settings key (e.g. order_desk), title and the sandbox chat."""

    key: str
    chat: FakeChat


@dataclass
class DemoWorld:
    """Everything one run of the demo shows: the sandbox server, the cast and the team chats."""

    server: FakeBotApi
    people: list[DemoPerson]
    team_chats: list[DemoTeamChat]


@dataclass
class DemoHooks:
    """The callbacks of the composition root: the bot's clock, fast-forward, reset and the bot's state."""

    now: Callable[[], datetime]
    fast_forward: Callable[[str], Awaitable[None]]
    reset: Callable[[], Awaitable[DemoWorld]]
    bot_status: Callable[[], str] = lambda: "running"
    timezone: str = "UTC"


@dataclass
class DemoPage:
    """The page's state holder and HTTP handlers; `world` is replaced on every reset."""

    world: DemoWorld
    hooks: DemoHooks
    generation: int = 0
    _resetting: asyncio.Lock = field(default_factory=asyncio.Lock)

    # ----- the state the page renders -----

    def revision(self) -> tuple[Any, ...]:
        """Returns a value that changes whenever anything the page shows changes."""
        server = self.world.server
        stored = sum(len(chat.messages) + len(chat.deleted) for chat in server.chats.values())
        return (
            self.generation,
            len(server.outputs),
            stored,
            len(server.violations),
            len(server.callback_answers),
            len(server.pre_checkout_answers),
            len(server.unsupported_calls),
            self.hooks.bot_status(),
            int(self.hooks.now().timestamp()) // 60,
        )

    def state(self) -> Json:
        """Returns the whole state of the demo as the page renders it."""
        server = self.world.server
        zone = ZoneInfo(self.hooks.timezone)
        now = self.hooks.now()
        team_ids = {team.chat.id for team in self.world.team_chats}
        chats = [
            self._chat_json(team.chat, zone, kind="team", key=team.key) for team in self.world.team_chats
        ]
        chats += [
            self._chat_json(chat, zone, kind="private", key=str(chat.id))
            for chat in server.chats.values()
            if chat.id not in team_ids and chat.type == "private"
        ]
        answers = [
            {
                "id": query_id,
                "text": answer.get("text") or "",
                "show_alert": _truthy(answer.get("show_alert")),
            }
            for query_id, answer in list(server.callback_answers.items())[-CALLBACK_ANSWERS_SHOWN:]
        ]
        # A refused payment shows the bot's error_message, as Telegram's payment form does.
        answers += [
            {"id": query_id, "text": str(answer.get("error_message") or ""), "show_alert": True}
            for query_id, answer in list(server.pre_checkout_answers.items())[-CALLBACK_ANSWERS_SHOWN:]
            if not _truthy(answer.get("ok"))
        ]
        return {
            "generation": self.generation,
            "bot": {"status": self.hooks.bot_status(), "username": server.bot_username},
            "clock": {
                "utc": now.astimezone(UTC).isoformat(timespec="seconds"),
                "local": now.astimezone(zone).strftime("%a %Y-%m-%d %H:%M"),
                "timezone": self.hooks.timezone,
                "steps": FAST_FORWARD_STEPS,
            },
            "people": [person.to_json() for person in self.world.people],
            "chats": chats,
            "violations": list(server.violations),
            "unsupported_calls": list(server.unsupported_calls),
            "callback_answers": answers,
        }

    def _chat_json(self, chat: FakeChat, zone: ZoneInfo, *, kind: str, key: str) -> Json:
        """Returns a chat with its messages (deleted ones marked) in order."""
        everything = {**chat.deleted, **chat.messages}
        ids = sorted(everything)[-MESSAGES_PER_CHAT:]
        return {
            "id": chat.id,
            "kind": kind,
            "key": key,
            "type": chat.type,
            "title": chat.title or chat.first_name or str(chat.id),
            "owner_id": chat.user.id if chat.user else None,
            "messages": [
                self._message_json(everything[i], zone, deleted=i not in chat.messages) for i in ids
            ],
            "reply_keyboard": _reply_keyboard(chat.reply_keyboard),
        }

    def _message_json(self, message: Json, zone: ZoneInfo, *, deleted: bool) -> Json:
        """Returns a message as the page renders it: text and entities, media as local URLs, buttons."""
        sender = message.get("from") or {}
        moment = datetime.fromtimestamp(int(message.get("date", 0)), UTC).astimezone(zone)
        rendered: Json = {
            "id": message["message_id"],
            "from_id": sender.get("id"),
            "from_name": " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p),
            "from_bot": bool(sender.get("is_bot")),
            "time": moment.strftime("%m-%d %H:%M"),
            "text": message.get("text") or message.get("caption") or "",
            "entities": message.get("entities") or message.get("caption_entities") or [],
            "edited": "edit_date" in message,
            "deleted": deleted,
            "inline_keyboard": _inline_keyboard(message.get("reply_markup")),
        }
        if photos := message.get("photo"):
            largest = photos[-1]
            rendered["photo"] = {"url": f"/files/{largest['file_id']}", "width": largest.get("width")}
        if document := message.get("document"):
            rendered["document"] = {
                "url": f"/files/{document['file_id']}",
                "name": document.get("file_name") or "document",
                "mime": document.get("mime_type") or "application/octet-stream",
                "size": document.get("file_size"),
            }
        if invoice := message.get("invoice"):
            rendered["invoice"] = {
                "title": str(invoice.get("title") or ""),
                "description": str(invoice.get("description") or ""),
                "currency": str(invoice.get("currency") or ""),
                "total_amount": int(invoice.get("total_amount") or 0),
            }
        if paid := message.get("successful_payment"):
            rendered["payment"] = {
                "currency": str(paid.get("currency") or ""),
                "total_amount": int(paid.get("total_amount") or 0),
            }
        if replied := message.get("reply_to_message"):
            rendered["reply_to"] = {"id": replied.get("message_id"), "text": (replied.get("text") or "")[:80]}
        return rendered

    # ----- HTTP -----

    def make_app(self) -> web.Application:
        """Builds the aiohttp application of the page."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/events", self._events)
        app.router.add_post("/api/send", self._send)
        app.router.add_post("/api/press", self._press)
        app.router.add_post("/api/pay", self._pay)
        app.router.add_post("/api/upload", self._upload)
        app.router.add_post("/api/clock", self._clock)
        app.router.add_post("/api/reset", self._reset)
        app.router.add_get("/files/{file_id}", self._file)
        return app

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(WEB_DIR / "index.html", headers=_NO_CACHE)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = WEB_DIR / name
        if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={**_NO_CACHE, "Content-Type": STATIC_TYPES[path.suffix]})

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Streams the state as server-sent events, once at the start and after every change."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "Connection": "keep-alive",
            }
        )
        await response.prepare(request)
        last: tuple[Any, ...] | None = None
        last_write = 0.0
        try:
            while True:
                current = self.revision()
                if current != last:
                    payload = json.dumps(self.state(), ensure_ascii=False)
                    await response.write(f"event: state\ndata: {payload}\n\n".encode())
                    last, last_write = current, time.monotonic()
                elif time.monotonic() - last_write > 15:
                    # A comment line keeps proxies and the browser from timing the stream out.
                    await response.write(b": keep-alive\n\n")
                    last_write = time.monotonic()
                await asyncio.sleep(POLL_SECONDS)
        except ConnectionResetError:
            # The browser closed the page or reloaded it.
            pass
        return response

    async def _send(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user, chat = self._actor_and_chat(body)
        text = str(body.get("text") or "").strip()
        if not text:
            raise _bad_request("text is empty")
        replied = None
        if body.get("reply_to") is not None:
            replied = chat.messages.get(_int(body, "reply_to"))
            if replied is None:
                raise _bad_request("the message replied to does not exist (any more)")
        message = self.world.server.send_text(user, chat, text, reply_to=replied)
        return web.json_response({"ok": True, "message_id": message["message_id"]})

    async def _press(self, request: web.Request) -> web.Response:
        user, message, body = await self._pressed(request)
        try:
            query_id = self.world.server.press_button(user, message, str(body.get("callback_data") or ""))
        except LookupError as error:
            raise _bad_request(str(error)) from None
        return web.json_response({"ok": True, "query_id": query_id})

    async def _pay(self, request: web.Request) -> web.Response:
        """Pays an invoice in the chat (Telegram Payments, emulated): the bot gets the pre-checkout query."""
        user, message, _body = await self._pressed(request)
        try:
            query_id = self.world.server.pay_invoice(user, message)
        except LookupError as error:
            raise _bad_request(str(error)) from None
        return web.json_response({"ok": True, "query_id": query_id})

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise _bad_request("no file in the form")
        user, chat = self._actor_and_chat(dict(form))
        content = upload.file.read()
        caption = str(form.get("caption") or "") or None
        content_type = upload.content_type or "application/octet-stream"
        server = self.world.server
        if content_type.startswith("image/"):
            message = server.send_photo(user, chat, content, caption)
        else:
            name = upload.filename or "document.bin"
            message = server.send_document(user, chat, content, name, content_type, caption)
        return web.json_response({"ok": True, "message_id": message["message_id"]})

    async def _clock(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        step = str(body.get("step") or "")
        if step not in FAST_FORWARD_STEPS:
            raise _bad_request(f"step must be one of {', '.join(FAST_FORWARD_STEPS)}")
        await self.hooks.fast_forward(step)
        self.generation += 1
        return web.json_response({"ok": True, "clock": self.state()["clock"]})

    async def _reset(self, request: web.Request) -> web.Response:
        async with self._resetting:
            self.world = await self.hooks.reset()
            self.generation += 1
        return web.json_response({"ok": True})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        stored = self.world.server.files.get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound()
        disposition = "attachment" if request.query.get("download") else "inline"
        name = (stored.file_name or stored.file_path.rsplit("/", 1)[-1]).replace('"', "")
        return web.Response(
            body=stored.content,
            content_type=stored.mime_type or "application/octet-stream",
            headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
        )

    async def _pressed(self, request: web.Request) -> tuple[FakeUser, Json, Json]:
        """The visitor, the message whose button they pressed, and the request body."""
        body = await _json_body(request)
        user, chat = self._actor_and_chat(body)
        message = chat.messages.get(_int(body, "message_id"))
        if message is None:
            raise _bad_request("that message does not exist (any more)")
        return user, message, body

    def _actor_and_chat(self, body: Json) -> tuple[FakeUser, FakeChat]:
        """Finds the user the visitor acts as and the chat they act in (their private chat by default)."""
        server = self.world.server
        user = server.users.get(_int(body, "as"))
        if user is None:
            raise _bad_request("unknown user: pick someone in 'Act as'")
        chat_id = _int(body, "chat_id") if body.get("chat_id") not in (None, "") else user.id
        chat = server.chats.get(chat_id)
        if chat is None:
            raise _bad_request(f"unknown chat {chat_id}")
        return user, chat


_NO_CACHE = {"Cache-Control": "no-store"}


def _inline_keyboard(markup: Json | None) -> list[list[Json]]:
    """Returns an inline keyboard's buttons: text plus callback data or a safe URL."""
    rows = []
    for row in (markup or {}).get("inline_keyboard", []):
        buttons = []
        for button in row:
            item: Json = {"text": str(button.get("text", ""))}
            if "callback_data" in button:
                item["callback_data"] = str(button["callback_data"])
            elif button.get("pay"):
                item["pay"] = True
            elif str(button.get("url", "")).startswith(SAFE_LINK_SCHEMES):
                item["url"] = str(button["url"])
            buttons.append(item)
        rows.append(buttons)
    return rows


def _reply_keyboard(markup: Json | None) -> Json | None:
    """Returns a reply keyboard's button labels and whether it hides after one use."""
    if not markup:
        return None
    rows = [
        [str(button.get("text", "")) if isinstance(button, dict) else str(button) for button in row]
        for row in markup.get("keyboard", [])
    ]
    return {
        "rows": rows,
        "one_time": bool(markup.get("one_time_keyboard")),
        "placeholder": str(markup.get("input_field_placeholder") or ""),
    }


def _truthy(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def _int(body: Json, key: str) -> int:
    try:
        return int(body.get(key))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _bad_request(f"{key} must be an integer") from None


async def _json_body(request: web.Request) -> Json:
    try:
        body = await request.json()
    except ValueError:
        raise _bad_request("the body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("the body must be a JSON object")
    return body


def _bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps({"ok": False, "error": reason}), content_type="application/json"
    )
