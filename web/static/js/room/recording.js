// Consented recording in the room: the Record button, the other side's prompt, the REC badge.
//
// The server decides everything (web/services/recording.py): a participant asks
// (POST .../recordings/request), the other accepts or refuses (POST .../answer), either stops
// (POST .../stop). Each change reaches both pages as the server event recording-state on the
// session's private channel; a page that (re)loads asks GET .../recordings for the state.
// An accepted recording runs on the media relay: on "starting" both pages move their call
// there (a direct call has no server in its media path), and it stays there afterwards.

import { api, get } from "../api.js";

const LABELS = { idle: "Record", asked: "Waiting for an answer...", recording: "Stop recording" };

export class Recording {
  /**
   * @param {object} config the room config (sessionId, email, peer.name)
   * @param {import("./signaling.js").Signaling} signaling
   * @param {import("./call.js").Call} call
   * @param {{button: HTMLButtonElement, badge: HTMLElement, prompt: HTMLElement,
   *   promptText: HTMLElement, accept: HTMLButtonElement, decline: HTMLButtonElement,
   *   notice: HTMLElement}} ui
   */
  constructor(config, signaling, call, ui) {
    this.config = config;
    this.call = call;
    this.ui = ui;
    this.me = config.email;
    this.peerName = config.peer.name;
    this.base = `/api/mentoring/sessions/${encodeURIComponent(config.sessionId)}/recordings`;
    this.state = "idle";
    this.requestedBy = null;
    signaling.listen("recording-state", (data) => this._onEvent(data || {}));
    ui.button.addEventListener("click", () => this._click());
    ui.accept.addEventListener("click", () => this._answer(true));
    ui.decline.addEventListener("click", () => this._answer(false));
  }

  /** Ask the server where things stand (first load, reload during a recording). */
  async load() {
    const { ok, data } = await get(this.base);
    if (!ok) return;
    this.ui.button.hidden = !data.enabled;
    this._show(data.state, data.requestedBy);
    if (data.state === "starting" || data.state === "recording") this._moveToRelay();
  }

  _onEvent(data) {
    const by = data.by || null;
    switch (data.state) {
      case "asked":
        this._notice("");
        return this._show("asked", by);
      case "refused":
        this._notice(by === this.me ? "You declined the recording." : `${this.peerName} declined the recording.`);
        return this._show("idle", null);
      case "starting":
        this._notice("Starting the recording...");
        this._moveToRelay();
        return this._show("starting", this.requestedBy);
      case "recording":
        this._notice("");
        return this._show("recording", by);
      case "stopped":
        this._notice("The recording stopped. It is listed on the session's page.", true);
        return this._show("idle", null);
      case "failed":
        this._notice(data.reason || "The recording failed.");
        return this._show("idle", null);
      default:
        return undefined;
    }
  }

  _moveToRelay() {
    this.call.useRelay("recording");
  }

  _show(state, requestedBy) {
    this.state = state;
    this.requestedBy = requestedBy;
    const { button, badge, prompt, promptText } = this.ui;
    const mine = requestedBy === this.me;
    badge.hidden = state !== "recording";
    button.querySelector(".control__label").textContent =
      state === "starting" ? "Starting..." : LABELS[state] || LABELS.idle;
    button.disabled = state === "starting" || (state === "asked" && mine);
    button.classList.toggle("control--recording", state === "recording");
    const askMe = state === "asked" && requestedBy !== null && !mine;
    prompt.hidden = !askMe;
    if (askMe) promptText.textContent = `${this.peerName} asks to record this session.`;
  }

  async _click() {
    if (this.state === "recording") {
      await this._post("stop");
    } else if (this.state === "idle" || (this.state === "asked" && this.requestedBy !== this.me)) {
      if (this.state === "asked") return; // the prompt is the way to answer
      await this._post("request");
    }
  }

  async _answer(accept) {
    this.ui.prompt.hidden = true;
    await this._post("answer", { accept });
  }

  async _post(action, body) {
    const { ok, data } = await api("POST", `${this.base}/${action}`, body);
    if (!ok) {
      this._notice(data.error);
      await this.load();
    }
  }

  _notice(text, linkToSession = false) {
    const notice = this.ui.notice;
    notice.textContent = text;
    if (linkToSession) {
      const link = document.createElement("a");
      link.href = `/mentoring/sessions/${encodeURIComponent(this.config.sessionId)}`;
      link.target = "_blank";
      link.textContent = "Open the recordings";
      notice.append(" ", link);
    }
    notice.hidden = !text;
  }
}
