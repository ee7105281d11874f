"""Plays the README's guided scenario against a running demo (`make demo`) through the page's HTTP API.

    python scripts/demo_scenario.py [--url http://127.0.0.1:8080] [--no-reset] [--sla-wait 30]

Each step prints whether it ran, or which feature it needs that the bot does not have yet; a step
that needs an earlier one's result (the order) says so. Exit status 1 when a step that could run
failed, 0 otherwise. Only the standard library is used, so any Python 3.11 runs it.

Staff answer the bot's typed questions as a person would: the warehouse counts the goods the
picking prompt lists, logistics books with a carrier button, a waybill in that carrier's format and
times a day after the bot's (possibly fast-forwarded) clock.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Json = dict[str, Any]
Predicate = Callable[[Json], bool]

REFERENCE = re.compile(r"\bR-[0-9A-Z]{6,}\b")
ORDER_NUMBER = re.compile(r"\b20\d{9,}\b")
CJK = re.compile(r"[\u4e00-\u9fff]")
REPLY_SECONDS = 8.0
WIZARD_TURNS = 30
SKIP = "<press Skip>"
NO = "<press No>"
# Answers for the order wizard, chosen by words in its question; the first match wins, so the more
# specific words come first ("Email address, e.g. name@..." is not the name question).
WIZARD_ANSWERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("remarks", "备注"), SKIP),
    (("another goods", "another line", "urgent", "另一", "加急"), NO),
    (("phone", "mobile", "电话", "手机"), "+1 212 736 3100"),
    (("email", "e-mail", "邮箱"), "emma.brown@example.com"),
    (("postcode", "postal", "zip", "邮编"), "10118"),
    (("street", "address", "地址"), "350 Fifth Avenue"),
    (("state or province", "province", "州", "省"), "NY"),
    (("city", "城市"), "New York"),
    (("country", "where do the goods go", "国家"), "US"),
    (("full name", "name", "姓名", "名字"), "Emma Brown"),
    (("declared value", "value", "价值"), "120.00"),
    (("weight", "重量"), "0.5"),
    (("how many", "quantity", "数量"), "2"),
    (("what are the goods", "goods", "货物"), "Cotton T-shirts"),
)
NAVIGATION = re.compile(r"cancel|back|change|edit|取消|返回|修改|✖|«|✎", re.I)
# The wizard's buttons name the field asked (wz:<field>:<action>:...), a surer hint than the wording.
WIZARD_FIELD = re.compile(r"^wz:([a-z_]+):")
CONFIRM_BUTTON = re.compile(r"confirm|submit|确认|提交", re.I)
# Emma pays by bank card, so the demo shows Telegram's invoice (issue 12).
PAYMENT_BUTTON = re.compile(r"bank card|银行卡", re.I)
CHOICE_BUTTONS = {SKIP: re.compile(r"skip|跳过", re.I), NO: re.compile(r"^\W*(no|否|没有|不)\b", re.I)}
# An execution card's button (handlers/execution_cards.py) is ex:<order id>:<step>.
STEP_BUTTON = re.compile(r"^ex:[^:]+:([a-z]{2})$")
RECEIPT_BUTTON = re.compile(r"^rcpt:")
# The damage claim (issue 14): Report a problem, Goods damaged, a goods line, Evidence complete, ...
PROBLEM_BUTTON = re.compile(r"^prob:")
CLAIM_BUTTON = re.compile(r"^clm:[^:]+:([a-z]+)(?::\d+)?$")
CLAIM_LINE = re.compile(r"^clq:[^:]+:0:-1$")


def tiny_png() -> bytes:
    """A 1 x 1 PNG: the photo of the damage the customer sends with 📎."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


SLA_ALERT = re.compile(r"SLA (warning|breach)")
# What logistics types, step by step; a carrier button picks DHL Express, whose waybills have 10 digits.
CARRIER = "DHL"
WAYBILL = "4839201756"
DECLARATION = "531620261000123456"
ARRIVED_AT = "JFK Airport, New York"
CLEARANCE = "Released, duties paid"
COURIER = "Mike Courier"
COURIER_PHONE = "+1 212 736 3100"
SIGNED_BY = "Emma Brown"


@dataclass(frozen=True)
class Press:
    """An answer given by pressing the question's button whose callback data matches."""

    pattern: re.Pattern[str]


Answer = str | Callable[[Json], str] | Press


class StepUnavailable(Exception):
    """The step needs a feature the bot does not have yet (or a result an earlier step did not give)."""


class StepFailed(Exception):
    """The feature is there but did not behave as the scenario expects."""


@dataclass
class DemoClient:
    """Talks to the demo page's HTTP API as the page itself does."""

    url: str
    state: Json = field(default_factory=dict)

    def request(self, path: str, body: Json | None = None) -> Json:
        """GETs (no body) or POSTs JSON; raises StepFailed with the page's error message."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = urllib.request.Request(self.url + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=90) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise StepFailed(f"{path}: HTTP {error.code}: {detail}") from None

    def refresh(self) -> Json:
        """Reloads the demo state."""
        self.state = self.request("/api/state")
        return self.state

    def person(self, *, kind: str, role: str | None = None, language: str | None = None) -> Json:
        """Finds a member of the cast."""
        for person in self.refresh()["people"]:
            if person["kind"] != kind:
                continue
            if role is not None and role not in person["roles"]:
                continue
            if language is not None and person["language"] != language:
                continue
            return person
        raise StepFailed(f"the demo has no {kind} {role or language or ''}")

    def team_chat(self, key: str) -> Json:
        """Returns a team chat by its key (order_desk, warehouse...)."""
        return next(chat for chat in self.refresh()["chats"] if chat["kind"] == "team" and chat["key"] == key)

    def chat(self, chat_id: int) -> Json:
        """Returns a chat by id from a fresh state."""
        return next(chat for chat in self.refresh()["chats"] if chat["id"] == chat_id)

    def last_id(self, chat_id: int) -> int:
        """Returns the newest message id of a chat (0 when empty)."""
        messages = self.chat(chat_id)["messages"]
        return messages[-1]["id"] if messages else 0

    def send(self, person: Json, text: str, chat_id: int | None = None) -> int:
        """Sends a text as person (to their private chat by default); returns the chat's previous last id."""
        target = chat_id if chat_id is not None else person["id"]
        before = self.last_id(target)
        self.request("/api/send", {"as": person["id"], "chat_id": target, "text": text})
        return before

    def press(self, person: Json, chat_id: int, message: Json, callback_data: str) -> None:
        """Presses an inline button as person."""
        self.request(
            "/api/press",
            {
                "as": person["id"],
                "chat_id": chat_id,
                "message_id": message["id"],
                "callback_data": callback_data,
            },
        )

    def upload(self, person: Json, chat_id: int, content: bytes, filename: str, content_type: str) -> int:
        """Sends a file as person, as 📎 does (an image arrives as a photo); returns the previous last id."""
        before = self.last_id(chat_id)
        boundary = "demo-scenario-boundary"
        fields = {"as": str(person["id"]), "chat_id": str(chat_id)}
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            self.url + "/api/upload",
            data=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=90) as response:
                response.read()
        except urllib.error.HTTPError as error:
            raise StepFailed(
                f"/api/upload: HTTP {error.code}: {error.read().decode(errors='replace')}"
            ) from None
        return before

    def wait_for(
        self, chat_id: int, predicate: Predicate, *, after: int = 0, timeout: float = REPLY_SECONDS
    ) -> Json | None:
        """Waits for a bot message newer than `after` in a chat that matches predicate (newest first)."""
        deadline = time.monotonic() + timeout
        while True:
            for message in reversed(self.chat(chat_id)["messages"]):
                if (
                    message["from_bot"]
                    and not message["deleted"]
                    and message["id"] > after
                    and predicate(message)
                ):
                    return message
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)

    def bot_replies(self, chat_id: int, after: int) -> list[Json]:
        """Returns the bot's messages in a chat newer than `after`."""
        return [m for m in self.chat(chat_id)["messages"] if m["from_bot"] and m["id"] > after]


def buttons(message: Json) -> list[Json]:
    """Returns the callback buttons of a message."""
    return [b for row in message["inline_keyboard"] for b in row if "callback_data" in b]


def step_button(message: Json, step: str) -> Json | None:
    """Returns the execution-card button of a step (pk, sc, bk, dp, ar, cl, lm, dl, np), if shown."""
    return next(
        (b for b in buttons(message) if (m := STEP_BUTTON.match(b["callback_data"])) and m.group(1) == step),
        None,
    )


def code_texts(message: Json) -> list[str]:
    """Returns the text of the message's code entities (Telegram counts offsets in UTF-16 units)."""
    encoded = message["text"].encode("utf-16-le")
    return [
        encoded[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message["entities"]
        if e["type"] == "code"
    ]


def approvals(message: Json) -> list[Json]:
    """Returns the Approve buttons of a review card."""
    return [b for b in buttons(message) if "approve" in b["text"].lower() or "批准" in b["text"]]


@dataclass
class Scenario:
    """The guided scenario; `order` holds the reference and number once the wizard produced them."""

    demo: DemoClient
    sla_wait: float
    reference: str | None = None
    number: str | None = None

    def order_key(self) -> str:
        """The order's number once confirmed, its reference before."""
        if self.reference is None:
            raise StepUnavailable("needs the order placed in the wizard step")
        return self.number or self.reference

    def mentions_order(self, message: Json) -> bool:
        """Tells whether a message names the scenario's order."""
        return any(key and key in message["text"] for key in (self.reference, self.number))

    def _start_as_customer(self, language: str) -> tuple[Json, Json]:
        """A new customer speaking the language sends /start; returns them and the bot's answer."""
        customer = self.demo.person(kind="customer", language=language)
        after = self.demo.send(customer, "/start")
        reply = self.demo.wait_for(customer["id"], lambda m: True, after=after)
        if reply is None:
            raise StepFailed("no answer to /start")
        return customer, reply

    def customer_start(self) -> str:
        """An English customer opens the bot with /start and gets the main menu."""
        emma, reply = self._start_as_customer("en")
        menu = self.demo.chat(emma["id"])["reply_keyboard"]
        labels = [label for row in (menu or {}).get("rows", []) for label in row]
        return f"greeted: {reply['text'][:60]!r}; menu: {labels}"

    def chinese_customer_start(self) -> str:
        """A Chinese customer gets the greeting in Chinese."""
        _, reply = self._start_as_customer("zh")
        if not CJK.search(reply["text"]):
            raise StepFailed(f"the greeting is not in Chinese: {reply['text']!r}")
        return f"greeted: {reply['text'][:40]!r}"

    def inline_button(self) -> str:
        """The customer opens /lang and presses the English button."""
        emma = self.demo.person(kind="customer", language="en")
        after = self.demo.send(emma, "/lang")
        picker = self.demo.wait_for(emma["id"], lambda m: bool(buttons(m)), after=after)
        if picker is None:
            raise StepFailed("/lang showed no buttons")
        english = next((b for b in buttons(picker) if b["text"] == "English"), buttons(picker)[0])
        before = self.demo.last_id(emma["id"])
        self.demo.press(emma, emma["id"], picker, english["callback_data"])
        done = self.demo.wait_for(
            emma["id"], lambda m: m["id"] > before or m["id"] == picker["id"], after=before
        )
        if done is None:
            raise StepFailed("pressing the language button changed nothing")
        return f"answer: {done['text'][:60]!r}"

    def place_order(self) -> str:
        """The customer presses "New order" and answers the wizard until the order gets a reference."""
        emma = self.demo.person(kind="customer", language="en")
        menu = self.demo.chat(emma["id"])["reply_keyboard"] or {"rows": []}
        label = next(
            (x for row in menu["rows"] for x in row if "order" in x.lower() and "my" not in x.lower()), None
        )
        if label is None:
            raise StepUnavailable("the main menu has no 'New order' button")
        after = self.demo.send(emma, label)
        previous = ""
        for turn in range(WIZARD_TURNS):
            replies = self.wait_for_replies(emma["id"], after)
            if not replies and turn == 0:
                raise StepUnavailable("the order wizard did not answer 'New order' (wizard not built yet)")
            if not replies:
                raise StepFailed(f"the wizard stopped answering after {previous[:80]!r}")
            last = replies[-1]
            for message in replies:
                if match := REFERENCE.search(message["text"]):
                    self.reference = match.group(0)
                    return f"order placed: {self.reference} after {turn} answers"
            if last["text"] == previous:
                raise StepFailed(f"the wizard refused the answer: {replies[0]['text'][:160]!r}")
            previous = last["text"]
            after = self.answer_wizard(emma, last)
        raise StepFailed(f"the wizard did not finish within {WIZARD_TURNS} answers")

    def wait_for_replies(self, chat_id: int, after: int) -> list[Json]:
        """Waits for the bot's answer to the last user message and returns all its new messages."""
        if self.demo.wait_for(chat_id, lambda m: True, after=after) is None:
            return []
        time.sleep(0.5)
        return self.demo.bot_replies(chat_id, after)

    def answer_wizard(self, customer: Json, question: Json) -> int:
        """Answers one wizard question: Confirm when offered, else a canned answer, else the first choice."""
        chat_id = customer["id"]
        fields = [m.group(1) for b in buttons(question) if (m := WIZARD_FIELD.match(b["callback_data"]))]
        choices = [b for b in buttons(question) if not NAVIGATION.search(b["text"])]
        button = next((b for b in choices if CONFIRM_BUTTON.search(b["text"])), None)
        if button is None and fields[:1] == ["payment"]:
            button = next((b for b in choices if PAYMENT_BUTTON.search(b["text"])), None)
        answer = None
        for text in (fields[0].replace("_", " ") if fields else "", question["text"].lower()):
            answer = next((a for words, a in WIZARD_ANSWERS if any(w in text for w in words)), None)
            if answer is not None:
                break
        if button is None and answer in CHOICE_BUTTONS:
            button = next((b for b in choices if CHOICE_BUTTONS[answer].search(b["text"])), None)
        if button is None and answer is None and choices:
            button = choices[0]
        if button is not None:
            before = self.demo.last_id(chat_id)
            self.demo.press(customer, chat_id, question, button["callback_data"])
            return before
        if answer is None or answer in CHOICE_BUTTONS:
            raise StepFailed(f"cannot answer the wizard's {question['text'][:100]!r}")
        return self.demo.send(customer, answer)

    def pay(self) -> str:
        """The customer pays Telegram's invoice with its Pay button (emulated by the sandbox)."""
        emma = self.demo.person(kind="customer", language="en")
        invoice = self.demo.wait_for(emma["id"], lambda m: bool(m.get("invoice")))
        if invoice is None:
            raise StepUnavailable("no invoice in the customer's chat (Telegram Payments not wired)")
        after = self.demo.last_id(emma["id"])
        self.demo.request("/api/pay", {"as": emma["id"], "chat_id": emma["id"], "message_id": invoice["id"]})
        paid = self.demo.wait_for(emma["id"], lambda m: "received for your order" in m["text"], after=after)
        if paid is None:
            raise StepFailed("the customer paid the invoice but was not told the payment arrived")
        amount = invoice["invoice"]["total_amount"]
        return f"invoice of {amount} {invoice['invoice']['currency']} (smallest unit) paid; customer told"

    def review(self) -> str:
        """The order desk approves the review card (the head too when a second review is asked)."""
        key = self.order_key()
        desk_chat = self.demo.team_chat("order_desk")["id"]
        card = self.demo.wait_for(desk_chat, lambda m: self.mentions_order(m) and bool(buttons(m)))
        if card is None:
            raise StepUnavailable(
                f"no review card for {key} in the order-desk chat (review cards not built yet)"
            )
        pressed: set[str] = set()
        for role in ("order_desk", "order_desk_head"):
            approve = next((b for b in approvals(card) if b["callback_data"] not in pressed), None)
            if approve is None:
                break
            pressed.add(approve["callback_data"])
            self.demo.press(
                self.demo.person(kind="staff", role=role), desk_chat, card, approve["callback_data"]
            )
            # A second review shows a new or edited card with a fresh Approve button for the head.
            card = self.demo.wait_for(
                desk_chat,
                lambda m: (
                    self.mentions_order(m) and any(b["callback_data"] not in pressed for b in approvals(m))
                ),
                timeout=3,
            )
            if card is None:
                break
        emma = self.demo.person(kind="customer", language="en")
        confirmation = self.demo.wait_for(emma["id"], lambda m: bool(ORDER_NUMBER.search(m["text"])))
        if confirmation is None:
            raise StepFailed("the customer got no confirmation with an order number")
        self.number = ORDER_NUMBER.search(confirmation["text"]).group(0)  # type: ignore[union-attr]
        pdf = any(m.get("document") for m in self.demo.chat(emma["id"])["messages"])
        return f"confirmed as {self.number}" + ("; the confirmation PDF arrived" if pdf else "")

    def card(self, team: str, step: str, *, after: int = 0) -> Json:
        """Waits for the order's card in a team chat that offers the step's button (newer than `after`)."""
        if self.number is None:
            raise StepUnavailable("needs the order confirmed in the review step")
        chat_id = self.demo.team_chat(team)["id"]
        card = self.demo.wait_for(
            chat_id, lambda m: self.mentions_order(m) and step_button(m, step) is not None, after=after
        )
        if card is None:
            said = [m["text"][:120] for m in self.demo.bot_replies(chat_id, after)[-2:]]
            raise StepFailed(
                f"no card with the {step!r} button for {self.number} in the {team} chat; bot: {said}"
            )
        return card

    def do_step(self, team: str, role: str, step: str, answers: Sequence[Answer] = ()) -> int:
        """Presses a step's button on the order's card and answers the bot's questions; returns the id before.

        An answer is text to type, a function of the question returning the text, or a Press of one of
        the question's buttons.
        """
        chat_id = self.demo.team_chat(team)["id"]
        staff = self.demo.person(kind="staff", role=role)
        card = self.card(team, step)
        before = self.demo.last_id(chat_id)
        self.demo.press(staff, chat_id, card, step_button(card, step)["callback_data"])  # type: ignore[index]
        mark = before
        for answer in answers:
            question = self.demo.wait_for(chat_id, lambda m: True, after=mark)
            if question is None:
                raise StepFailed(f"the bot asked nothing after {step!r} in the {team} chat")
            mark = self.demo.last_id(chat_id)
            if isinstance(answer, Press):
                choice = next(
                    (b for b in buttons(question) if answer.pattern.match(b["callback_data"])), None
                )
                if choice is None:
                    raise StepFailed(f"no {answer.pattern.pattern!r} button on {question['text'][:80]!r}")
                self.demo.press(staff, chat_id, question, choice["callback_data"])
                continue
            self.demo.send(staff, answer(question) if callable(answer) else answer, chat_id)
            # The typed message is the newest now: the next question comes after it.
            mark = self.demo.last_id(chat_id)
        return before

    def a_day_later(self, question: Json) -> str:
        """Answers an estimate's question: the bot's (fast-forwardable) time a day ahead, in company time."""
        clock = self.demo.refresh()["clock"]
        moment = datetime.fromisoformat(clock["utc"]) + timedelta(days=1)
        return moment.astimezone(ZoneInfo(clock["timezone"])).strftime("%Y-%m-%d %H:%M")

    def warehouse(self) -> str:
        """The warehouse presses Picked and types the count the prompt lists, then does the outbound scan."""
        self.order_key()
        counted: list[str] = []

        def count(question: Json) -> str:
            """Copies the goods the picking prompt lists ("<SKU> <quantity>" lines)."""
            counted.extend(code_texts(question))
            if not counted:
                raise StepFailed(f"the picking prompt lists no goods: {question['text'][:120]!r}")
            return "\n".join(counted)

        before = self.do_step("warehouse", "warehouse", "pk", [count])
        self.card("warehouse", "sc", after=before)
        self.do_step("warehouse", "warehouse", "sc")
        logistics_card = self.card("logistics", "bk")
        note = any(
            m.get("document") and self.mentions_order(m)
            for m in self.demo.chat(self.demo.team_chat("logistics")["id"])["messages"]
        )
        return (
            f"counted {counted}, outbound scan done; logistics got "
            + ("the outbound note and " if note else "")
            + f"the card {logistics_card['text'].splitlines()[0]!r}"
        )

    def logistics(self) -> str:
        """Logistics books (carrier, waybill, departure, declaration), departs, ... and delivers."""
        self.order_key()
        steps: list[tuple[str, str, list[Answer], str | None]] = [
            (
                "bk",
                "Booked",
                [Press(re.compile(f"^exc:.*:{CARRIER}$")), WAYBILL, self.a_day_later, DECLARATION],
                "dp",
            ),
            ("dp", "Departed", [], "ar"),
            ("ar", "Arrived", [ARRIVED_AT], "cl"),
            ("cl", "Customs cleared", [CLEARANCE], "lm"),
            ("lm", "Out for delivery", [COURIER, COURIER_PHONE, self.a_day_later], "dl"),
            ("dl", "Delivered", [SIGNED_BY, Press(re.compile(r"^ex:.*:np$"))], None),
        ]
        done = []
        for step, name, answers, next_step in steps:
            before = self.do_step("logistics", "logistics", step, answers)
            if next_step is not None:
                self.card("logistics", next_step, after=before)
            done.append(name)
        return ", ".join(done)

    def _claim_button(self, message: Json, what: str) -> str:
        """The callback data of a claim button (what: photos, evidence, contacted, compensate, accept...)."""
        for button in buttons(message):
            match = CLAIM_BUTTON.match(button["callback_data"])
            if match and match.group(1) == what:
                return str(button["callback_data"])
        raise StepFailed(f"no {what!r} button on: {message['text'][:80]!r}")

    def damage_claim(self) -> str:
        """Emma reports damaged goods with a photo; customer service offers compensation; she accepts."""
        self.order_key()
        emma = self.demo.person(kind="customer", language="en")
        care = self.demo.person(kind="staff", role="customer_service")
        delivered = self.demo.wait_for(
            emma["id"],
            lambda m: (
                self.mentions_order(m) and any(PROBLEM_BUTTON.match(b["callback_data"]) for b in buttons(m))
            ),
        )
        if delivered is None:
            raise StepUnavailable("the delivered message has no 'Report a problem'")
        problem = next(b for b in buttons(delivered) if PROBLEM_BUTTON.match(b["callback_data"]))
        before = self.demo.last_id(emma["id"])
        self.demo.press(emma, emma["id"], delivered, problem["callback_data"])
        asked = self.demo.wait_for(emma["id"], lambda m: "What is wrong" in m["text"], after=before)
        if asked is None:
            raise StepFailed("'Report a problem' did not ask what is wrong")
        damaged = next(b for b in buttons(asked) if b["callback_data"].endswith(":damaged"))
        self.demo.press(emma, emma["id"], asked, damaged["callback_data"])
        evidence = self.demo.wait_for(emma["id"], lambda m: "attach the evidence" in m["text"], after=before)
        if evidence is None:
            raise StepFailed("no evidence card after 'Goods damaged'")
        line = next(b for b in buttons(evidence) if CLAIM_LINE.match(b["callback_data"]))
        self.demo.press(emma, emma["id"], evidence, line["callback_data"])
        time.sleep(0.5)
        picker = next(m for m in self.demo.chat(emma["id"])["messages"] if m["id"] == evidence["id"])
        one = next((b for b in buttons(picker) if b["text"] == "1"), None)
        if one is None:
            raise StepFailed("pressing a goods line showed no quantities")
        self.demo.press(emma, emma["id"], picker, one["callback_data"])
        time.sleep(0.5)
        card = next(m for m in self.demo.chat(emma["id"])["messages"] if m["id"] == evidence["id"])
        self.demo.press(emma, emma["id"], card, self._claim_button(card, "photos"))
        after = self.demo.upload(emma, emma["id"], tiny_png(), "damage.png", "image/png")
        if self.demo.wait_for(emma["id"], lambda m: "Photo 1 kept" in m["text"], after=after) is None:
            raise StepFailed("the photo was not kept")
        service = self.demo.team_chat("customer_service")
        seen = self.demo.last_id(service["id"])
        self.demo.press(emma, emma["id"], card, self._claim_button(card, "evidence"))
        claim = self.demo.wait_for(service["id"], lambda m: "Evidence recorded" in m["text"], after=seen)
        if claim is None:
            raise StepFailed("customer service got no claim card")
        self.demo.press(care, service["id"], claim, self._claim_button(claim, "contacted"))
        choices = self.demo.wait_for(
            service["id"], lambda m: "Choose the resolution" in m["text"], after=seen
        )
        if choices is None:
            raise StepFailed("no resolution buttons after 'Customer contacted'")
        mine = self.demo.last_id(emma["id"])
        self.demo.press(care, service["id"], choices, self._claim_button(choices, "compensate"))
        offer = self.demo.wait_for(emma["id"], lambda m: "we offer" in m["text"], after=mine)
        if offer is None:
            raise StepFailed("the customer got no offer")
        self.demo.press(emma, emma["id"], offer, self._claim_button(offer, "accept"))
        settled = self.demo.wait_for(
            service["id"], lambda m: "The customer accepted" in m["text"], after=seen
        )
        if settled is None:
            raise StepFailed("customer service was not told the customer accepted")
        self.demo.press(care, service["id"], settled, self._claim_button(settled, "close"))
        return f"{offer['text'][:70]!r}; accepted, payout owed to finance, case closed"

    def confirm_receipt(self) -> str:
        """The customer has had an update at every step and presses Confirm receipt on the delivered one."""
        self.order_key()
        emma = self.demo.person(kind="customer", language="en")
        delivered = self.demo.wait_for(
            emma["id"],
            lambda m: (
                self.mentions_order(m) and any(RECEIPT_BUTTON.match(b["callback_data"]) for b in buttons(m))
            ),
        )
        if delivered is None:
            raise StepFailed("the customer got no delivered message with 'Confirm receipt'")
        updates = [
            m["text"].splitlines()[0]
            for m in self.demo.chat(emma["id"])["messages"]
            if m["from_bot"] and self.number and self.number in m["text"] and "Your order" in m["text"]
        ]
        button = next(b for b in buttons(delivered) if RECEIPT_BUTTON.match(b["callback_data"]))
        self.demo.press(emma, emma["id"], delivered, button["callback_data"])
        deadline = time.monotonic() + REPLY_SECONDS
        while time.monotonic() < deadline:
            shown = next(m for m in self.demo.chat(emma["id"])["messages"] if m["id"] == delivered["id"])
            if not buttons(shown):
                answer = next(
                    (a["text"] for a in reversed(self.demo.state["callback_answers"]) if a["text"]), ""
                )
                return f"{len(updates)} updates ({' / '.join(updates)}); receipt confirmed: {answer!r}"
            time.sleep(0.2)
        raise StepFailed("pressing 'Confirm receipt' changed nothing")

    def sla_alert(self) -> str:
        """Fast-forwards the bot's clock a working day at a time until an SLA alert on the order is posted."""
        self.order_key()
        teams = [chat for chat in self.demo.refresh()["chats"] if chat["kind"] == "team"]
        seen = {chat["id"]: (chat["messages"][-1]["id"] if chat["messages"] else 0) for chat in teams}
        for day in range(1, 4):
            clock = self.demo.request("/api/clock", {"step": "working_day"})["clock"]
            deadline = time.monotonic() + self.sla_wait / 3
            while time.monotonic() < deadline:
                for chat in self.demo.refresh()["chats"]:
                    for message in chat["messages"]:
                        if (
                            chat["id"] in seen
                            and message["id"] > seen[chat["id"]]
                            and SLA_ALERT.search(message["text"])
                            and self.mentions_order(message)
                        ):
                            return (
                                f"bot time {clock['local']} after {day} working day(s), "
                                f"in {chat['title']}: {message['text'][:90]!r}"
                            )
                time.sleep(0.5)
        raise StepFailed(f"no SLA alert for the order within 3 working days ({self.sla_wait:.0f} s)")

    def track(self) -> str:
        """The customer asks for the order with /track (or /order) and sees its status."""
        key = self.order_key()
        emma = self.demo.person(kind="customer", language="en")
        for command in ("/track", "/order"):
            after = self.demo.send(emma, f"{command} {key}")
            reply = self.demo.wait_for(emma["id"], lambda m: True, after=after)
            if reply is not None and self.mentions_order(reply):
                return f"{command}: {reply['text'][:80]!r}"
        raise StepUnavailable(f"neither /track nor /order showed {key} (order tracking not built yet)")


def run(url: str, *, reset: bool, sla_wait: float) -> int:
    """Plays every step, printing one line each; returns the exit status."""
    demo = DemoClient(url.rstrip("/"))
    scenario = Scenario(demo, sla_wait)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("English customer: /start", scenario.customer_start),
        ("Chinese customer: /start", scenario.chinese_customer_start),
        ("Inline button: /lang -> English", scenario.inline_button),
        ("Customer places an order (wizard)", scenario.place_order),
        ("Customer pays the invoice", scenario.pay),
        ("Order desk reviews and confirms", scenario.review),
        ("Warehouse: Picked (typed count), Outbound scan", scenario.warehouse),
        ("Fast-forward to an SLA alert", scenario.sla_alert),
        ("Logistics: Booked ... Delivered", scenario.logistics),
        ("Customer reports damaged goods (claim)", scenario.damage_claim),
        ("Customer confirms receipt", scenario.confirm_receipt),
        ("Customer tracks the order", scenario.track),
    ]
    if reset:
        demo.request("/api/reset", {})
        print("reset: fresh database, fresh chats")
    failures = 0
    for name, step in steps:
        try:
            outcome = step()
        except StepUnavailable as reason:
            print(f"[not available yet] {name}: {reason}")
        except (StepFailed, urllib.error.URLError) as problem:
            failures += 1
            print(f"[FAILED] {name}: {problem}")
        else:
            print(f"[ran] {name}: {outcome}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    """Parses the command line and plays the scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the demo page (default %(default)s)")
    parser.add_argument("--no-reset", action="store_true", help="keep the current chats and database")
    parser.add_argument("--sla-wait", type=float, default=30.0, help="seconds to wait for an SLA alert")
    args = parser.parse_args(argv)
    try:
        return run(args.url, reset=not args.no_reset, sla_wait=args.sla_wait)
    except urllib.error.URLError as error:
        print(
            f"Cannot reach the demo at {args.url} ({error.reason}): start it with `make demo`",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
