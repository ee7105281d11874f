// The demo page: renders the sandbox state pushed by /api/events and acts through /api/*.
// Message text arrives as plain text plus Telegram entities; everything is built with DOM nodes
// and textContent, so nothing the bot sends is ever interpreted as HTML.
"use strict";

const SAFE_SCHEMES = ["http:", "https:", "mailto:", "tg:"];
const DEFAULT_PLACEHOLDER = "Write a message… (Shift+Enter: new line)";
const ENTITY_TAGS = {
  bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code",
  blockquote: "blockquote", expandable_blockquote: "blockquote",
};

const view = {
  state: null,
  actAs: null,          // user id
  tab: "private",       // "private" or a team chat key
  seenAnswers: null,    // callback query ids already toasted
  hiddenKeyboards: {},  // chat id -> JSON of a one-time keyboard already used
  generation: null,
  replyTo: null,        // the message the composer replies to (issue 18)
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return SAFE_SCHEMES.includes(parsed.protocol) ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

// ----- Telegram text with entities -----

function entityNode(entity, text) {
  const tag = ENTITY_TAGS[entity.type];
  if (tag) return el(tag, { class: `entity-${entity.type}` });
  switch (entity.type) {
    case "pre":
      return el("pre", { "data-language": entity.language || null });
    case "spoiler": {
      const node = el("span", { class: "spoiler", title: "Spoiler: click to reveal" });
      node.addEventListener("click", () => node.classList.add("revealed"));
      return node;
    }
    case "text_link":
    case "url": {
      const href = safeUrl(entity.type === "url" ? text : entity.url);
      return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }) : el("span");
    }
    case "bot_command": {
      const node = el("span", { class: "command", title: "Send this command" });
      node.addEventListener("click", () => sendText(text));
      return node;
    }
    default:
      return el("span", { class: `entity-${entity.type}` });
  }
}

function renderRange(parent, text, start, end, entities) {
  let position = start;
  let index = 0;
  while (index < entities.length) {
    const entity = entities[index];
    const entityStart = Math.max(entity.offset, position);
    const entityEnd = Math.min(entity.offset + entity.length, end);
    const inner = [];
    let next = index + 1;
    while (next < entities.length && entities[next].offset < entity.offset + entity.length) {
      inner.push(entities[next]);
      next += 1;
    }
    if (entityStart < entityEnd) {
      if (entityStart > position) parent.append(text.slice(position, entityStart));
      const node = entityNode(entity, text.slice(entityStart, entityEnd));
      renderRange(node, text, entityStart, entityEnd, inner);
      parent.append(node);
      position = entityEnd;
    }
    index = next;
  }
  if (position < end) parent.append(text.slice(position, end));
}

function renderText(text, entities) {
  const node = el("div", { class: "text" });
  const sorted = [...(entities || [])].sort((a, b) => a.offset - b.offset || b.length - a.length);
  renderRange(node, text, 0, text.length, sorted);
  return node;
}

// ----- chats and messages -----

function currentPerson() {
  return view.state.people.find((person) => person.id === view.actAs) || null;
}

function currentChat() {
  if (!view.state) return null;
  if (view.tab === "private") {
    return view.state.chats.find((chat) => chat.kind === "private" && chat.owner_id === view.actAs) || null;
  }
  return view.state.chats.find((chat) => chat.kind === "team" && chat.key === view.tab) || null;
}

function renderMessage(chat, message) {
  const mine = message.from_id === view.actAs;
  const classes = ["message", message.from_bot ? "from-bot" : mine ? "mine" : "other"];
  if (message.deleted) {
    return el("li", { class: [...classes, "deleted"].join(" "), "data-message-id": message.id },
      el("span", { class: "muted", text: "🗑 message deleted" }));
  }
  const item = el("li", { class: classes.join(" "), "data-message-id": message.id });
  item.append(el("div", { class: "meta" },
    el("span", { class: "sender", text: message.from_name || "?" }),
    el("span", { class: "time", text: message.time }),
    message.edited ? el("span", { class: "edited", text: "edited" }) : null));
  if (message.reply_to) {
    item.append(el("div", { class: "reply-to", text: `↩ ${message.reply_to.text || "message"}` }));
  }
  if (message.photo) {
    item.append(el("a", { href: message.photo.url, target: "_blank", rel: "noopener" },
      el("img", { class: "photo", src: message.photo.url, alt: "photo" })));
  }
  if (message.document) {
    const doc = message.document;
    item.append(el("div", { class: "document" },
      el("span", { class: "doc-icon", text: "📄" }),
      el("a", { class: "doc-open", href: doc.url, target: "_blank", rel: "noopener", text: doc.name }),
      el("a", { class: "doc-download", href: `${doc.url}?download=1`, download: doc.name, text: "download" }),
      el("span", { class: "muted", text: doc.size ? `${Math.ceil(doc.size / 1024)} KB` : "" })));
  }
  if (message.invoice) {
    const invoice = message.invoice;
    item.append(el("div", { class: "invoice" },
      el("div", { class: "invoice-title", text: `🧾 ${invoice.title}` }),
      el("div", { class: "invoice-description", text: invoice.description }),
      el("div", { class: "invoice-amount", text: formatAmount(invoice.total_amount, invoice.currency) })));
  }
  if (message.payment) {
    item.append(el("div", { class: "service-message", text: `✅ Paid ${formatAmount(message.payment.total_amount, message.payment.currency)}` }));
  }
  if (message.text) item.append(renderText(message.text, message.entities));
  if (message.from_bot && chat.kind === "team") {
    // Telegram's "Reply": customer service answers a conversation card this way (issue 18).
    item.append(el("button", {
      type: "button", class: "reply-action", text: "↩ Reply",
      onclick: () => startReply(message),
    }));
  }
  if (message.inline_keyboard.length) {
    const keyboard = el("div", { class: "inline-keyboard" });
    for (const row of message.inline_keyboard) {
      const line = el("div", { class: "row" });
      for (const button of row) {
        if (button.url) {
          const href = safeUrl(button.url);
          line.append(el("a", { class: "inline-button", href, target: "_blank", rel: "noopener", text: button.text }));
        } else if (button.pay) {
          line.append(el("button", {
            type: "button", class: "inline-button pay-button", text: button.text,
            onclick: () => payInvoice(chat, message),
          }));
        } else {
          line.append(el("button", {
            type: "button", class: "inline-button", text: button.text,
            "data-callback": button.callback_data ?? null,
            onclick: () => pressButton(chat, message, button),
          }));
        }
      }
      keyboard.append(line);
    }
    item.append(keyboard);
  }
  return item;
}

function renderChat() {
  const chat = currentChat();
  const list = $("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.replaceChildren();
  const person = currentPerson();
  if (!chat) {
    $("chat-title").textContent = "No chat";
    renderReplyKeyboard(null);
    return;
  }
  $("chat-title").textContent = chat.kind === "private" ? `Private chat with the bot (as ${person ? person.name : "?"})` : chat.title;
  $("chat-note").textContent = chat.kind === "team" ? `group ${chat.id}` : "";
  if (!chat.messages.length) list.append(el("li", { class: "empty muted", text: "No messages yet: try /start" }));
  for (const message of chat.messages) list.append(renderMessage(chat, message));
  if (nearBottom || list.dataset.chat !== String(chat.id)) list.scrollTop = list.scrollHeight;
  list.dataset.chat = String(chat.id);
  renderReplyKeyboard(chat);
}

function renderReplyKeyboard(chat) {
  const area = $("reply-keyboard");
  area.replaceChildren();
  const keyboard = chat && chat.reply_keyboard;
  const signature = keyboard ? JSON.stringify(keyboard) : "";
  if (!keyboard || view.hiddenKeyboards[chat.id] === signature) {
    area.hidden = true;
    $("composer-input").placeholder = DEFAULT_PLACEHOLDER;
    return;
  }
  for (const row of keyboard.rows) {
    const line = el("div", { class: "row" });
    for (const label of row) {
      line.append(el("button", {
        type: "button", class: "reply-button", text: label,
        onclick: () => {
          if (keyboard.one_time) view.hiddenKeyboards[chat.id] = signature;
          sendText(label);
        },
      }));
    }
    area.append(line);
  }
  $("composer-input").placeholder = keyboard.placeholder || DEFAULT_PLACEHOLDER;
  area.hidden = false;
}

function renderTabs() {
  const tabs = $("tabs");
  tabs.replaceChildren();
  const entries = [{ key: "private", title: "Private chat", chat: currentChat() && view.tab === "private" ? currentChat() : null }];
  for (const chat of view.state.chats.filter((c) => c.kind === "team")) entries.push({ key: chat.key, title: chat.title, chat });
  for (const entry of entries) {
    const chat = entry.key === "private"
      ? view.state.chats.find((c) => c.kind === "private" && c.owner_id === view.actAs)
      : entry.chat;
    const count = chat ? chat.messages.filter((m) => !m.deleted).length : 0;
    tabs.append(el("button", {
      type: "button", class: `tab${view.tab === entry.key ? " active" : ""}`, "data-chat-key": entry.key,
      onclick: () => { startReply(null); view.tab = entry.key; render(); },
    }, el("span", { text: entry.title }), el("span", { class: "badge", text: String(count) })));
  }
}

function renderIdentity() {
  const select = $("identity");
  const previous = select.value;
  select.replaceChildren();
  for (const [kind, title] of [["customer", "Customers"], ["staff", "Staff"]]) {
    const group = el("optgroup", { label: title });
    for (const person of view.state.people.filter((p) => p.kind === kind)) {
      group.append(el("option", { value: person.id, text: person.label }));
    }
    select.append(group);
  }
  if (!view.state.people.some((p) => p.id === view.actAs)) view.actAs = view.state.people[0]?.id ?? null;
  select.value = String(view.actAs ?? previous);
  const cast = $("cast");
  cast.replaceChildren();
  for (const person of view.state.people) {
    cast.append(el("li", {}, el("strong", { text: person.name }),
      el("span", { class: "muted", text: ` ${person.kind === "staff" ? person.roles.join(", ") : `customer (${person.language})`} · id ${person.id}` })));
  }
}

function renderSide() {
  const { violations, unsupported_calls: unsupported } = view.state;
  const list = $("violations");
  list.replaceChildren();
  const problems = [...violations, ...unsupported.map((method) => `${method}: not emulated by the sandbox`)];
  $("violation-count").textContent = String(problems.length);
  $("violation-count").classList.toggle("alert", problems.length > 0);
  if (!problems.length) list.append(el("li", { class: "muted", text: "none" }));
  for (const problem of problems) list.append(el("li", { text: problem }));
  const clock = view.state.clock;
  $("clock-now").textContent = clock.local;
  $("clock-now").dataset.utc = clock.utc;
  $("clock-zone").textContent = clock.timezone;
  const status = $("bot-status");
  status.textContent = `bot: ${view.state.bot.status}`;
  status.dataset.status = view.state.bot.status;
}

function toastAnswers() {
  const answers = view.state.callback_answers;
  if (view.seenAnswers === null) {
    view.seenAnswers = new Set(answers.map((answer) => answer.id));
    return;
  }
  for (const answer of answers) {
    if (view.seenAnswers.has(answer.id)) continue;
    view.seenAnswers.add(answer.id);
    if (answer.text) toast(answer.text, answer.show_alert ? "alert" : "info");
  }
}

function toast(text, kind = "info") {
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", text });
  $("toasts").append(node);
  setTimeout(() => node.remove(), kind === "alert" ? 8000 : 4000);
}

function render() {
  if (!view.state) return;
  if (view.generation !== view.state.generation) {
    view.generation = view.state.generation;
  }
  renderIdentity();
  renderTabs();
  renderChat();
  renderSide();
  toastAnswers();
  document.body.dataset.ready = "true";
}

// ----- actions -----

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: body instanceof FormData ? {} : { "Content-Type": "application/json" },
    body: body instanceof FormData ? body : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    toast(data.error || `${path} failed (${response.status})`, "error");
    throw new Error(data.error || response.statusText);
  }
  return data;
}

function targetChatId() {
  const chat = currentChat();
  return chat ? chat.id : null;
}

function sendText(text) {
  if (!text.trim()) return Promise.resolve();
  const body = { as: view.actAs, chat_id: targetChatId(), text };
  if (view.replyTo) body.reply_to = view.replyTo.id;
  startReply(null);
  return post("/api/send", body);
}

function startReply(message) {
  view.replyTo = message;
  const note = $("replying");
  note.hidden = !message;
  note.textContent = message ? `↩ Replying to: ${(message.text || "message").slice(0, 60)} (Esc: cancel)` : "";
  if (message) $("composer-input").focus();
}

function pressButton(chat, message, button) {
  return post("/api/press", { as: view.actAs, chat_id: chat.id, message_id: message.id, callback_data: button.callback_data });
}

function payInvoice(chat, message) {
  return post("/api/pay", { as: view.actAs, chat_id: chat.id, message_id: message.id });
}

// Telegram counts invoice amounts in the currency's smallest unit; these currencies have none.
const ZERO_DECIMAL = new Set("BIF CLP DJF GNF ISK JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split(" "));

function formatAmount(units, currency) {
  const decimals = ZERO_DECIMAL.has(currency) ? 0 : 2;
  return `${(units / 10 ** decimals).toFixed(decimals)} ${currency}`;
}

function homeTab(person) {
  return person && person.home ? person.home : "private";
}

function bind() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value;
    input.value = "";
    sendText(text).catch(() => { input.value = text; });
  });
  // Enter sends, Shift+Enter starts a new line (a picking count has one line per SKU); an input
  // method still composing (e.g. Chinese pinyin) keeps its Enter.
  $("composer-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") startReply(null);
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    $("composer").requestSubmit();
  });
  $("identity").addEventListener("change", (event) => {
    startReply(null);
    view.actAs = Number(event.target.value);
    view.tab = homeTab(currentPerson());
    render();
  });
  $("file-input").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("as", String(view.actAs));
    form.append("chat_id", String(targetChatId()));
    form.append("caption", $("composer-input").value);
    form.append("file", file, file.name);
    $("composer-input").value = "";
    event.target.value = "";
    await post("/api/upload", form);
  });
  for (const button of document.querySelectorAll("[data-step]")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try { await post("/api/clock", { step: button.dataset.step }); } finally { button.disabled = false; }
    });
  }
  $("reset").addEventListener("click", async () => {
    if (!window.confirm("Start over with a fresh database and fresh chats?")) return;
    const button = $("reset");
    button.disabled = true;
    document.body.dataset.ready = "false";
    try {
      await post("/api/reset", {});
      view.hiddenKeyboards = {};
      view.seenAnswers = null;
      toast("Started over: fresh database, fresh chats");
    } finally { button.disabled = false; }
  });
}

function connect() {
  const events = new EventSource("/api/events");
  events.addEventListener("state", (event) => {
    view.state = JSON.parse(event.data);
    render();
  });
  events.onerror = () => { $("bot-status").textContent = "reconnecting…"; };
}

bind();
connect();
