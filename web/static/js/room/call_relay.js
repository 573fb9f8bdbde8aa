// The media relay half of the call (call.js): moving a call onto the server's relay, offering
// to it (non-trickle, after ICE gathering), watching the connection and offering again with
// backoff when it is lost. The methods are written as a class for readability and copied onto
// Call's prototype by `addRelayMethods`, so `this` is the call and they share its state
// (relayPc, relayWatch, relayAttempts, onRelay, timers.relayRetry).

import { api } from "../api.js";
import { TURN_REFUSED_MESSAGE } from "./ice_evidence.js";
import { closeQuietly, gatheringDone, plain } from "./peer_util.js";
import { RelayWatch } from "./relay_watch.js";

// With the default 5 s connect timer these keep the "blocks UDP" verdict under 10 s:
// 5 s + 1.5 s of gathering + 3 s waiting for the relay.
const RELAY_GATHER_LIMIT_MS = 1500;
const RELAY_CONNECT_LIMIT_MS = 3000;
// Re-offers to the relay after a lost connection: at once, then after 1, 2, 4, 4... seconds.
const RELAY_RETRY_BASE_MS = 1000;
const RELAY_RETRY_MAX_MS = 4000;
/** Answers worth offering again for (the server is away, restarting or busy for a moment). */
const RELAY_RETRY_STATUSES = new Set([0, 409, 429, 500, 502, 503, 504]);
export const UDP_BLOCKED_MESSAGE =
  "This network blocks UDP; ask the operator to enable TURN over TCP/TLS.";

/** Methods of Call (see the top of this file); never instantiated. */
class RelayMethods {
  /** Move the call onto the media relay (a recording needs a server in the media path). */
  useRelay(reason) {
    if (this.onRelay || this.ended || this.mode === "never") return;
    this._enqueue(() => this._moveToRelay(reason, false));
  }

  async _moveToRelay(reason, tellPeer) {
    if (this.onRelay || this.ended || this.mode === "never") return;
    // websocket path hooks: say when TURN refuses us; skip the relay when UDP is blocked
    await this.evidence.settle();
    if (this.onRelay || this.ended) return;
    if (this.evidence.turnRefused) this._emit("error", { message: TURN_REFUSED_MESSAGE });
    if (this.evidence.udpLooksBlocked()) {
      if (this.wsPath.supported) {
        return this.wsPath.start(`${reason}; this network blocks UDP`, { probe: true });
      }
      if (!this.evidence.turnRefused) this._emit("error", { message: UDP_BLOCKED_MESSAGE });
    }
    this.onRelay = true;
    console.info(`room: moving to the media relay (${reason})`);
    if (tellPeer) this._send("client-path", { path: "relay", reason });
    this._closePeerConnection();
    this._emit("relay", { state: "connecting", reason });
    try {
      await this._connectRelay();
    } catch (error) {
      console.error("room: relay failed", error);
      this._emit("error", { message: error.message || "The media relay could not be reached." });
    }
  }

  /**
   * Offer a fresh connection to the relay. ``reconnecting``: the call was on the relay and
   * lost it; answers worth retrying schedule another attempt instead of failing the call.
   */
  async _connectRelay(reconnecting = false) {
    this._closeRelay();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.evidence.watch(pc); // websocket path hook
    this.relayPc = pc;
    for (const kind of ["audio", "video"]) {
      const track = this._sendable().find((t) => t.kind === kind);
      if (track) pc.addTransceiver(track, { direction: "sendrecv", streams: [this.localStream] });
      else pc.addTransceiver(kind, { direction: "recvonly" });
    }
    pc.ontrack = (event) => this._onRemoteTrack(event.track);
    const localTypes = new Set();
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) localTypes.add(candidate.type);
    };
    pc.oniceconnectionstatechange = () => {
      if (this.relayPc !== pc) return;
      const state = pc.iceConnectionState;
      this._emit("ice", { state });
    };
    await pc.setLocalDescription();
    await gatheringDone(pc, RELAY_GATHER_LIMIT_MS);
    if (this.relayPc !== pc || this.ended) return;
    const { ok, status, data: answer } = await api(
      "POST",
      this._relayPath("offer"),
      plain(pc.localDescription),
    );
    if (this.relayPc !== pc || this.ended) return;
    if (!ok) {
      if (reconnecting && RELAY_RETRY_STATUSES.has(status)) {
        console.info(`room: the relay did not take the offer (${status}); trying again`);
        this._closeRelay();
        this._scheduleRelayReconnect();
        return;
      }
      // Any refusal (disabled, full, busy, a bad offer) means no relay for this call: say why.
      throw new Error(`The media relay is not available: ${answer.error}`);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    this.relayWatch = new RelayWatch(pc, {
      expectVideo: () => this.peerPresent,
      onHealth: (healthy) => this._relayHealth(pc, healthy),
      onLost: (reason) => this._enqueue(() => this._relayLost(pc, reason)),
      replacement: reconnecting,
    });
    if (reconnecting) return; // the watch gives up on a connection that never comes up
    setTimeout(() => {
      if (this.relayPc !== pc || this.ended) return;
      const state = pc.iceConnectionState;
      if (state !== "connected" && state !== "completed") {
        if (this.wsPath.supported) {
          // websocket path hook: the relay is out of reach, the server's websocket is not
          this._enqueue(() => this.wsPath.start("the relay cannot be reached", { probe: true }));
          return;
        }
        let message = localTypes.has("relay")
          ? "The media relay cannot be reached from this network."
          : UDP_BLOCKED_MESSAGE;
        if (this.evidence.turnRefused) message = TURN_REFUSED_MESSAGE;
        this._emit("error", { message });
      }
    }, RELAY_CONNECT_LIMIT_MS);
  }

  /** The relay connection carries media (or stopped carrying it for a moment). */
  _relayHealth(pc, healthy) {
    if (this.relayPc !== pc || this.ended) return;
    if (healthy) {
      this.relayAttempts = 0;
      this._setPath("relay");
      this._emit("media", { state: "flowing" });
    } else if (this.path === "relay") {
      this._setPath("relay-reconnecting");
      this._emit("media", { state: "reconnecting", reason: "the video stalled" });
    }
  }

  /** The relay connection is gone (a crash or restart of the server): start a new one. */
  async _relayLost(pc, reason) {
    if (this.relayPc !== pc || this.ended || !this.onRelay) return;
    console.info(`room: relay connection lost (${reason}); offering again`);
    this._closeRelay();
    this._clearRemote();
    this._setPath("relay-reconnecting");
    this._emit("media", { state: "reconnecting", reason });
    this.relayAttempts = 0;
    this._scheduleRelayReconnect(0);
  }

  _scheduleRelayReconnect(delayMs = null) {
    if (this.ended || !this.onRelay) return;
    clearTimeout(this.timers.relayRetry);
    const backoff = Math.min(RELAY_RETRY_MAX_MS, RELAY_RETRY_BASE_MS * 2 ** this.relayAttempts);
    const delay = delayMs ?? backoff;
    if (delayMs === null) this.relayAttempts += 1;
    this.timers.relayRetry = setTimeout(() => {
      this.timers.relayRetry = null;
      this._enqueue(async () => {
        try {
          await this._connectRelay(true);
        } catch (error) {
          console.error("room: relay reconnect failed", error);
          this._emit("error", { message: error.message || "The media relay could not be reached." });
        }
      });
    }, delay);
  }

  _closeRelay() {
    this.relayWatch?.stop();
    this.relayWatch = null;
    const pc = this.relayPc;
    this.relayPc = null;
    if (pc) closeQuietly(pc);
  }

  _relayPath(action) {
    return `/api/relay/sessions/${encodeURIComponent(this.config.sessionId)}/${action}`;
  }
}

/** Give ``CallClass`` the relay methods (call.js does this once, after defining Call). */
export function addRelayMethods(CallClass) {
  for (const name of Object.getOwnPropertyNames(RelayMethods.prototype)) {
    if (name === "constructor") continue;
    const method = Object.getOwnPropertyDescriptor(RelayMethods.prototype, name);
    Object.defineProperty(CallClass.prototype, name, method);
  }
}
