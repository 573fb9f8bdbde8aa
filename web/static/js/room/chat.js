// Room chat: client-chat-message on presence-session-{id}. The hub stores every message, so
// the history is loaded from the API on join; messages that arrive while it loads are held
// back and merged so none shows twice. The longest message the server accepts comes with the
// page (config.chatTextMax), from the same rule the API and the hub apply.

import { get } from "../api.js";

const SAME_MESSAGE_WINDOW_MS = 30_000;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export class Chat {
  /**
   * @param {object} config the room config
   * @param {import("./signaling.js").Signaling} signaling
   * @param {object} els {log, empty, form, input, error}
   */
  constructor(config, signaling, els) {
    this.config = config;
    this.textMax = config.chatTextMax;
    this.signaling = signaling;
    this.els = els;
    this.loaded = false;
    this.held = [];
    this.history = [];
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    els.input.addEventListener("input", () => this._error(""));
  }

  async loadHistory() {
    const id = encodeURIComponent(this.config.sessionId);
    const { ok, data } = await get(`/api/mentoring/sessions/${id}/chat`);
    if (ok) {
      this.history = (data.messages || []).map((m) => ({
        from: m.sender,
        name: m.senderName,
        text: m.text,
        sentAt: m.sentAt,
      }));
    } else {
      console.warn("room: chat history unavailable", data.error);
      this._error("The earlier messages could not be loaded.");
    }
    for (const message of this.history) this._append(message);
    this.loaded = true;
    for (const message of this.held.splice(0)) {
      if (!this.history.some((old) => sameMessage(old, message))) this._append(message);
    }
  }

  /** A message from the other participant (the hub never echoes our own). */
  receive(data) {
    if (!data || typeof data.text !== "string" || !data.text) return;
    const message = {
      from: String(data.from || ""),
      name: String(data.name || data.from || ""),
      text: data.text.slice(0, this.textMax),
      sentAt: data.sentAt || new Date().toISOString(),
    };
    if (!this.loaded) this.held.push(message);
    else this._append(message);
  }

  async send() {
    const text = this.els.input.value.trim();
    if (!text) return;
    if (text.length > this.textMax) {
      this._error(`A message can be at most ${this.textMax} characters.`);
      return;
    }
    if (!this.signaling.isReady()) {
      this._error("Not connected to the room right now; your message was not sent. Try again in a moment.");
      return;
    }
    const message = {
      text,
      from: this.config.email,
      name: this.config.name,
      sentAt: new Date().toISOString(),
    };
    this.els.input.value = "";
    const item = this._append(message);
    item.classList.add("chat__msg--pending");
    const sent = await this.signaling.chat(message);
    if (sent) {
      item.classList.remove("chat__msg--pending");
      return;
    }
    item.remove();
    this._toggleEmpty();
    if (!this.els.input.value) this.els.input.value = text;
    this._error("Not connected to the room right now; your message was not sent. Try again in a moment.");
  }

  _append(message) {
    const mine = message.from === this.config.email;
    const item = document.createElement("li");
    item.className = `chat__msg ${mine ? "chat__msg--mine" : "chat__msg--theirs"}`;
    item.dataset.from = message.from;
    const meta = document.createElement("p");
    meta.className = "chat__meta";
    const who = document.createElement("span");
    who.className = "chat__name";
    who.textContent = mine ? "You" : message.name || message.from;
    const when = document.createElement("time");
    const sentAt = new Date(message.sentAt);
    if (!Number.isNaN(sentAt.getTime())) {
      when.dateTime = sentAt.toISOString();
      when.textContent = timeFormat.format(sentAt);
    }
    meta.append(who, " ", when);
    const text = document.createElement("p");
    text.className = "chat__text";
    text.textContent = message.text;
    item.append(meta, text);
    this.els.log.append(item);
    this._toggleEmpty();
    this.els.log.scrollTop = this.els.log.scrollHeight;
    return item;
  }

  _toggleEmpty() {
    this.els.empty.hidden = this.els.log.children.length > 0;
  }

  _error(message) {
    this.els.error.textContent = message;
  }
}

function sameMessage(a, b) {
  if (a.from !== b.from || a.text !== b.text) return false;
  const gap = Math.abs(new Date(a.sentAt).getTime() - new Date(b.sentAt).getTime());
  return Number.isNaN(gap) || gap < SAME_MESSAGE_WINDOW_MS;
}
