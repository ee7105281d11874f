"""The demo page's HTTP side: the state it renders, acting as a user, files, the clock and Reset (issue 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from sandbox.demo_app import DemoHooks, DemoPage, DemoPerson, DemoTeamChat, DemoWorld
from sandbox.server import FakeBotApi, run_fake_bot_api

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"


def make_world(server: FakeBotApi) -> DemoWorld:
    """One customer, one staff member and the order-desk chat."""
    emma = server.create_user("Emma", last_name="Brown", user_id=8001)
    olivia = server.create_user("Olivia", user_id=7002)
    desk = server.create_group("Order desk", [olivia], chat_id=-1_001_000_000_001)
    people = [DemoPerson(emma, "customer"), DemoPerson(olivia, "staff", ("order_desk",), home="order_desk")]
    return DemoWorld(server, people, [DemoTeamChat("order_desk", desk)])


class Hooks:
    """Records what the page asked of the composition root."""

    def __init__(self, fresh: DemoWorld) -> None:
        self.offset = timedelta(0)
        self.steps: list[str] = []
        self.fresh = fresh

    def now(self) -> datetime:
        return datetime(2026, 3, 2, 1, 0, tzinfo=UTC) + self.offset

    async def fast_forward(self, step: str) -> None:
        self.steps.append(step)
        self.offset += timedelta(hours=1)

    async def reset(self) -> DemoWorld:
        return self.fresh


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeBotApi, FakeBotApi]]:
    """The sandbox of the first world and of the one Reset brings."""
    async with run_fake_bot_api() as first, run_fake_bot_api() as second:
        yield first, second


@pytest.fixture
async def client(servers: tuple[FakeBotApi, FakeBotApi]) -> AsyncIterator[tuple[TestClient, Hooks]]:
    """The page's HTTP client over the first world."""
    first, second = servers
    hooks = Hooks(make_world(second))
    page = DemoPage(
        make_world(first),
        DemoHooks(hooks.now, hooks.fast_forward, hooks.reset, timezone="Asia/Shanghai"),
    )
    async with TestClient(TestServer(page.make_app())) as http:
        yield http, hooks


async def test_state_lists_people_chats_and_the_bots_clock(client: tuple[TestClient, Hooks]) -> None:
    """The team chat comes first, then every private chat; the clock shows the business time zone."""
    http, _ = client
    state = await (await http.get("/api/state")).json()
    assert [(p["id"], p["home"]) for p in state["people"]] == [(8001, "private"), (7002, "order_desk")]
    assert [(c["kind"], c["id"]) for c in state["chats"]] == [
        ("team", -1_001_000_000_001),
        ("private", 8001),
        ("private", 7002),
    ]
    assert state["clock"]["local"] == "Mon 2026-03-02 09:00"
    assert state["violations"] == []


async def test_acting_as_a_user_sends_text_and_presses_buttons(
    client: tuple[TestClient, Hooks], servers: tuple[FakeBotApi, FakeBotApi]
) -> None:
    """Text goes to the chosen chat as the chosen user; a button press becomes a callback query."""
    http, _ = client
    server = servers[0]
    response = await http.post(
        "/api/send", json={"as": 7002, "chat_id": -1_001_000_000_001, "text": "/start"}
    )
    assert response.status == 200
    sent = server.pending_updates[-1]["message"]
    assert (sent["from"]["id"], sent["chat"]["id"], sent["text"]) == (7002, -1_001_000_000_001, "/start")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    async with http.session.post(
        f"{server.base_url}/bot{TOKEN}/sendMessage",
        json={
            "chat_id": 8001,
            "text": "<b>Pick</b>",
            "parse_mode": "HTML",
            "reply_markup": {"inline_keyboard": [[{"text": "English", "callback_data": "lang:en"}]]},
        },
    ) as answer:
        message = (await answer.json())["result"]
    state = await (await http.get("/api/state")).json()
    rendered = next(c for c in state["chats"] if c["id"] == 8001)["messages"][-1]
    assert (rendered["text"], rendered["entities"]) == ("Pick", [{"type": "bold", "offset": 0, "length": 4}])
    assert rendered["inline_keyboard"] == [[{"text": "English", "callback_data": "lang:en"}]]

    press = {"as": 8001, "chat_id": 8001, "message_id": message["message_id"], "callback_data": "lang:en"}
    assert (await http.post("/api/press", json=press)).status == 200
    assert server.pending_updates[-1]["callback_query"]["data"] == "lang:en"
    missing = await http.post("/api/press", json={**press, "callback_data": "lang:xx"})
    assert missing.status == 400
    assert "no button" in (await missing.json())["error"]


async def test_bad_requests_say_what_is_wrong(client: tuple[TestClient, Hooks]) -> None:
    """Unknown users, empty texts, unknown clock steps and odd static paths are refused."""
    http, hooks = client
    unknown = await http.post("/api/send", json={"as": 1, "text": "hi"})
    assert unknown.status == 400
    assert "unknown user" in (await unknown.json())["error"]
    assert (await http.post("/api/send", json={"as": 8001, "text": "  "})).status == 400
    assert (await http.post("/api/clock", json={"step": "year"})).status == 400
    assert hooks.steps == []
    assert (await http.get("/static/..%2fdemo_app.py")).status == 404
    assert (await http.get("/static/app.js")).status == 200


async def test_upload_photo_and_download_files(
    client: tuple[TestClient, Hooks], servers: tuple[FakeBotApi, FakeBotApi]
) -> None:
    """An image upload is a photo, another file a document; files come back inline or as downloads."""
    http, _ = client
    server = servers[0]
    form: dict[str, str | bytes] = {
        "as": "8001",
        "chat_id": "8001",
        "caption": "damaged",
        "file": b"\x89PNG\r\n\x1a\nfake",
    }
    response = await http.post("/api/upload", data=_multipart(form, "box.png", "image/png"))
    assert response.status == 200
    photo = server.pending_updates[-1]["message"]
    assert photo["caption"] == "damaged" and photo["photo"]
    pdf = _multipart({**form, "file": b"%PDF-1.4"}, "invoice.pdf", "application/pdf")
    assert (await http.post("/api/upload", data=pdf)).status == 200
    document = server.pending_updates[-1]["message"]["document"]
    assert document["file_name"] == "invoice.pdf"

    inline = await http.get(f"/files/{document['file_id']}")
    assert inline.headers["Content-Type"] == "application/pdf"
    assert inline.headers["Content-Disposition"] == 'inline; filename="invoice.pdf"'
    assert await inline.read() == b"%PDF-1.4"
    download = await http.get(f"/files/{document['file_id']}?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert (await http.get("/files/nope")).status == 404


async def test_clock_and_reset_go_through_the_hooks(
    client: tuple[TestClient, Hooks], servers: tuple[FakeBotApi, FakeBotApi]
) -> None:
    """Fast-forward asks the composition root to move the clock; Reset swaps in the world it returns."""
    http, hooks = client
    moved = await (await http.post("/api/clock", json={"step": "working_day"})).json()
    assert hooks.steps == ["working_day"]
    assert moved["clock"]["local"] == "Mon 2026-03-02 10:00"
    await http.post("/api/send", json={"as": 8001, "text": "/start"})
    assert (await http.post("/api/reset", json={})).status == 200
    state = await (await http.get("/api/state")).json()
    assert all(not chat["messages"] for chat in state["chats"])
    await http.post("/api/send", json={"as": 8001, "text": "/start"})
    assert servers[1].pending_updates[-1]["message"]["text"] == "/start"


def _multipart(fields: dict[str, str | bytes], file_name: str, content_type: str) -> FormData:
    """Builds the page's upload form."""
    form = FormData()
    for key, value in fields.items():
        if isinstance(value, bytes):
            form.add_field(key, value, filename=file_name, content_type=content_type)
        else:
            form.add_field(key, value)
    return form
