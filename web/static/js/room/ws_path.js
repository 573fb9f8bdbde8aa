// The third path of a call, after direct and relay: media over the server's websocket
// (ws_media.js), for networks that let no UDP out when no TURN server helps. call.js moves
// here when gathering shows UDP is blocked or the relay cannot be reached in time; both pages
// then use the websocket (the page that moves tells the other with client-path "websocket").
// A page that moved because its own network blocks UDP keeps checking in the background and
// moves the call back to the relay as soon as UDP gets through again (networks change).

import { udpReachable } from "./ice_evidence.js";

// ws_media.js (and what it imports) only loads when a call moves here: most calls never do,
// and a join should not wait for it.
const loadWsMedia = () => import("./ws_media.js");

const FIRST_UPGRADE_CHECK_MS = 5000; // soon: a busy machine can make UDP look blocked
const UPGRADE_CHECK_MS = 15_000;
const RECONNECT_MS = 2000;
const REFUSED = { 4401: "not signed in", 4403: "not allowed", 4404: "no such session" };

/** True when this browser can send and receive media over the websocket. */
function wsMediaSupported() {
  return [
    "VideoEncoder",
    "VideoDecoder",
    "AudioEncoder",
    "AudioDecoder",
    "EncodedVideoChunk",
    "EncodedAudioChunk",
    "MediaStreamTrackProcessor",
    "MediaStreamTrackGenerator",
  ].every((name) => typeof globalThis[name] === "function");
}

export class WebsocketPath {
  /** @param {import("./call.js").Call} call */
  constructor(call) {
    this.call = call;
    this.media = null;
    this.timers = { upgrade: null, reconnect: null };
    this.probe = false;
    this.opening = false; // ws_media.js is loading for the first socket
  }

  get supported() {
    return wsMediaSupported();
  }

  /** ``?path=websocket`` in the page address: start on the websocket (demos, benchmarks). */
  get forced() {
    return this.supported && new URLSearchParams(location.search).get("path") === "websocket";
  }

  get active() {
    return this.media !== null || this.opening;
  }

  /**
   * Move the call onto the websocket. ``probe``: this page's own network blocks UDP, so it
   * keeps checking whether it still does.
   */
  async start(reason, { tellPeer = true, probe = false } = {}) {
    const call = this.call;
    if (this.active || call.ended) return;
    console.info(`room: moving to the websocket path (${reason})`);
    if (tellPeer) call._send("client-path", { path: "websocket", reason });
    call.onRelay = true; // off the peer-to-peer connection, as on the relay
    clearTimeout(call.timers.relayRetry);
    call.timers.relayRetry = null;
    call._closePeerConnection();
    call._closeRelay();
    this.probe = this.probe || probe;
    await this._open();
    if (this.probe) this._scheduleUpgradeCheck(FIRST_UPGRADE_CHECK_MS);
  }

  async _open() {
    const call = this.call;
    this.opening = true;
    let WsMedia;
    try {
      ({ WsMedia } = await loadWsMedia());
    } finally {
      this.opening = false;
    }
    if (call.ended || this.media !== null || !call.onRelay) return;
    const media = new WsMedia({ sessionId: call.config.sessionId, localStream: call.localStream });
    this.media = media;
    media.addEventListener("track", ({ detail }) => call._onRemoteTrack(detail.track));
    media.addEventListener("closed", ({ detail }) => this._onClosed(media, detail));
    try {
      await media.start();
    } catch (error) {
      console.warn("room: media websocket", error);
      return; // the close event schedules another attempt
    }
    if (this.media === media) call._setPath("websocket");
  }

  _onClosed(media, { code, reason }) {
    if (this.media !== media || this.call.ended) return;
    media.stop();
    this.media = null;
    if (code === 4409) return; // another page of the same person took the call over
    if (REFUSED[code]) {
      this.call._emit("error", {
        message: `The server refused the media websocket (${reason || REFUSED[code]}).`,
      });
      return;
    }
    // The server restarts or the connection dropped: open a new socket soon.
    this.call._setPath("relay-reconnecting");
    this.media = null;
    clearTimeout(this.timers.reconnect);
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = null;
      if (!this.call.ended && this.media === null && this.call.onRelay) this._open();
    }, RECONNECT_MS);
  }

  _scheduleUpgradeCheck(delayMs = UPGRADE_CHECK_MS) {
    clearTimeout(this.timers.upgrade);
    this.timers.upgrade = setTimeout(() => this._checkUpgrade(), delayMs);
  }

  async _checkUpgrade() {
    this.timers.upgrade = null;
    const call = this.call;
    if (!this.media || call.ended) return;
    const reachable = await udpReachable(call.iceServers).catch(() => false);
    if (!this.media || call.ended) return;
    if (!reachable) {
      this._scheduleUpgradeCheck();
      return;
    }
    console.info("room: UDP gets through again; moving the call back to the relay");
    call._send("client-path", { path: "relay", reason: "UDP works again", upgrade: true });
    this.leave();
    call._enqueue(() => call._moveToRelay("UDP works again", false));
  }

  /**
   * The other side asks for the relay. An upgrade is followed; any other request means it has
   * not heard that the call is on the websocket: tell it again.
   */
  onRelayRequested(data) {
    if (data.upgrade) {
      this.leave();
      return false; // the caller moves to the relay
    }
    this.call._send("client-path", { path: "websocket", reason: "the call is on the websocket" });
    return true;
  }

  /** Leave the websocket path (to the relay); the call is back off every path. */
  leave() {
    this.stop();
    this.call.onRelay = false;
    this.call._clearRemote();
  }

  stop() {
    for (const name of Object.keys(this.timers)) {
      clearTimeout(this.timers[name]);
      this.timers[name] = null;
    }
    this.media?.stop();
    this.media = null;
  }
}
