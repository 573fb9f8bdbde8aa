// The video call: peer-to-peer WebRTC with the perfect-negotiation pattern, trickle ICE,
// ICE restarts, path detection and the fallback to our media relay.
//
// Roles: the mentee is polite (on glare it rolls back and accepts the other offer), the
// mentor impolite (it ignores an incoming offer while it has one of its own pending). The
// mentor starts every negotiation: when it hears client-hello from a page it has not seen
// before (a new "epoch") it offers; a hello from a page it knows makes it restart ICE. A
// page answers a hello from an unknown epoch with its own hello, so whichever of the two
// joined last, both learn about each other (a hello carries the epoch its sender has `seen`,
// so a page that already knows us gets no hello back). A mentor alone in the room prepares
// its offer but sends nothing: offer and candidates to an empty room would spend the hub's
// client-event budget (10 a second) just before the newcomer's hello needs an answer.
//
// Relay (call_relay.js): in "always" mode the call goes straight to the media relay. In
// "auto" mode, when ICE does not connect within relay.connectTimeoutMs (or fails), this side
// sends client-path and both sides POST their own offer to /api/relay/sessions/{id}/offer
// (non-trickle: after ICE gathering completes) and use the answer. "never" keeps retrying
// peer to peer.
//
// A relay connection that stops carrying media (ICE failed or disconnected for a few
// seconds, or the remote video no longer decoding: relay_watch.js) is replaced with a fresh
// one and a new offer, retried with backoff while the server is away. Each page does this on
// its own; a restarted relay builds the room again from the two new offers. A call that moved
// to the relay stays there (auto mode does not try peer to peer again).
//
// Websocket path (ws_path.js): when gathering shows this network lets no UDP out, or the relay
// cannot be reached in time, both pages send WebCodecs chunks over the server's websocket
// instead; a TURN server refusing our credentials gets its own message (ice_evidence.js).

import { api, get } from "../api.js";
import { addRelayMethods } from "./call_relay.js";
import { mark } from "./marks.js";
import { closeQuietly, plain, selectedPath, videoTransceiver, worthSending } from "./peer_util.js";
// --- websocket path hooks (ws_path.js, ice_evidence.js) ---
import { IceEvidence } from "./ice_evidence.js";
import { WebsocketPath } from "./ws_path.js";
// --- end websocket path hooks ---

const HELLO_RETRY_MS = 2000;
const OFFER_PATIENCE_MS = 1500;
const DISCONNECTED_GRACE_MS = 2000;
const STATS_INTERVAL_MS = 2000;

export { mark }; // milestones of joining (marks.js)
export { selectedPath }; // path of a connected RTCPeerConnection (peer_util.js)

export const PATHS = {
  none: "not connected",
  direct: "direct",
  turn: "TURN",
  relay: "relay",
  "relay-reconnecting": "relay (reconnecting...)",
  websocket: "websocket",
};

export class Call extends EventTarget {
  /**
   * @param {object} config the room config
   * @param {import("./signaling.js").Signaling} signaling
   */
  constructor(config, signaling) {
    super();
    this.config = config;
    this.signaling = signaling;
    this.me = config.email;
    this.polite = Boolean(config.polite);
    this.epoch = Math.floor(Math.random() * 2 ** 31);
    this.remoteEpoch = null;
    this.mode = config.relay.mode;
    this.connectTimeoutMs = config.relay.connectTimeoutMs;
    this.iceServers = [];
    this.localStream = null;
    this.videoOverride = null; // a track sent instead of the camera (screen_share.js)
    this.remoteStream = new MediaStream();
    this.pc = null;
    this.relayPc = null;
    this.relayWatch = null;
    this.relayAttempts = 0;
    this.onRelay = false;
    this.makingOffer = false;
    this.offerSentAt = 0;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    this.everConnected = false;
    this.peerPresent = false;
    this.ended = false;
    this.path = "none";
    this.timers = { connect: null, disconnected: null, hello: null, stats: null, relayRetry: null };
    this.chain = Promise.resolve();
    this.media = null; // resolves when camera/microphone and ICE servers are known
    this.wsPath = new WebsocketPath(this); // websocket path hook
    this.evidence = new IceEvidence([]); // websocket path hook
  }

  // --- lifecycle ---------------------------------------------------------------------------

  /** Ask for camera and microphone and the ICE servers; signaling may connect meanwhile. */
  prepare() {
    this.media = Promise.all([this._openMedia(), this._loadIceServers()]).then(() => {
      mark("media-ready");
      this._emit("local", { stream: this.localStream });
      if (this.mode === "always") {
        this._enqueue(() => this._moveToRelay("relay mode is always", false));
      } else if (this.wsPath.forced) {
        this._enqueue(() => this.wsPath.start("the page address asks for it")); // ws path hook
      } else {
        // Get the connection ready while waiting: the mentor's offer (with its candidates
        // gathered) can then go out the moment the other side says hello. Not when the call
        // moved to the relay while the camera was opening (the other side asked for it).
        this._enqueue(() => (this.onRelay ? undefined : this._ensurePeerConnection()));
      }
    });
    return this.media;
  }

  async _openMedia() {
    const attempts = [
      { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } },
      { audio: true, video: false },
      { audio: false, video: true },
    ];
    let lastError = null;
    for (const constraints of attempts) {
      try {
        this.localStream = await navigator.mediaDevices.getUserMedia(constraints);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    this.localStream = new MediaStream();
    this._emit("error", {
      message: `Your camera and microphone are not available (${lastError?.name || "unknown"}); you can still see and hear the other side.`,
    });
  }

  async _loadIceServers() {
    const { ok, data } = await get("/api/ice-servers");
    if (!ok) {
      console.warn("room: no ICE servers", data.error);
      this.iceServers = [];
      return;
    }
    this.iceServers = Array.isArray(data.iceServers) ? data.iceServers : [];
    this.evidence = new IceEvidence(this.iceServers); // websocket path hook
    const relay = data.relay || {};
    // The mode comes with the page (it may be overridden there with ?relay=).
    if (relay.connectTimeoutMs > 0) this.connectTimeoutMs = relay.connectTimeoutMs;
  }

  /** Run signaling work one piece at a time, in arrival order, once media is ready. */
  _enqueue(task) {
    this.chain = this.chain
      .then(() => this.media)
      .then(() => (this.ended ? undefined : task()))
      .catch((error) => console.error("room: call step failed", error));
    return this.chain;
  }

  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * Queue a signaling event. Call steps never wait for it to go out (the hub's rate limit
   * can hold it back a little); the queue keeps the order.
   */
  _send(event, body, isStale = null) {
    return this.signaling.signal(event, { ...body, from: this.me, epoch: this.epoch }, isStale);
  }

  // --- signaling input ---------------------------------------------------------------------

  /** Both channels are (re)subscribed: announce ourselves; restart ICE if it had dropped. */
  onSignalingReady(rejoin) {
    this._sayHello();
    if (rejoin && this.onRelay && this.timers.relayRetry !== null) {
      // The server answers the websocket again: offer to the relay now, not after the backoff.
      this.relayAttempts = 0;
      this._scheduleRelayReconnect(0);
    }
    if (rejoin) {
      this._enqueue(async () => {
        if (!this.onRelay && this.pc && !this._iceUp()) await this._repair("rejoined the room");
      });
    }
  }

  _sayHello() {
    if (this.ended) return;
    // `seen`: the other page's epoch when we know it, so it need not say hello back.
    mark("hello-sent");
    this._send("client-hello", { seen: this.remoteEpoch });
  }

  onPresence(peerPresent) {
    this.peerPresent = peerPresent;
    clearInterval(this.timers.hello);
    this.timers.hello = null;
    if (peerPresent && this.remoteEpoch === null) {
      // The other page is in the room but we have not heard its hello: ask again until we do.
      this.timers.hello = setInterval(() => {
        if (this.remoteEpoch !== null || !this.peerPresent || this.ended) {
          clearInterval(this.timers.hello);
          this.timers.hello = null;
          return;
        }
        if (this.signaling.isReady()) this._sayHello();
      }, HELLO_RETRY_MS);
    }
    if (!peerPresent) {
      // Keep the connection: the other side may only have lost its websocket, and the media
      // still flows. A closed tab ends ICE; a new page load arrives with a new epoch.
      clearTimeout(this.timers.connect);
      this.timers.connect = null;
      this._emit("peer", { present: false, how: "left the room" });
    }
  }

  onSignal(event, data) {
    if (!data || data.from === this.me) return;
    this._enqueue(() => this._handle(event, data));
  }

  async _handle(event, data) {
    switch (event) {
      case "client-hello":
        return this._onHello(data);
      case "client-offer":
        return this._onDescription(data, data.offer);
      case "client-answer":
        return this._onDescription(data, data.answer);
      case "client-ice-candidate":
        return this._onCandidate(data);
      case "client-path":
        // websocket path hooks
        if (data.path === "websocket" && this.wsPath.supported) {
          return this.wsPath.start(`the other side asked: ${data.reason || "websocket"}`, {
            tellPeer: false,
          });
        }
        if (data.path === "relay" && this.wsPath.active && this.wsPath.onRelayRequested(data)) {
          return undefined;
        }
        if (data.path === "relay" && this.mode !== "never") {
          return this._moveToRelay(`the other side asked: ${data.reason || "relay"}`, false);
        }
        return undefined;
      case "client-bye":
        if (data.epoch === undefined || data.epoch === this.remoteEpoch) this._peerLeft();
        return undefined;
      default:
        return undefined;
    }
  }

  async _onHello(data) {
    mark("hello-received");
    const fresh = data.epoch !== this.remoteEpoch;
    if (fresh) {
      this._adoptEpoch(data.epoch);
      // So a page that joined before us learns our epoch too (unless it already knows it).
      if (data.seen !== this.epoch) this._sayHello();
    }
    this.peerPresent = true;
    this._emit("peer", { present: true });
    if (this.onRelay) {
      // We already moved to the relay (or the websocket): bring the newcomer along.
      const path = this.wsPath.active ? "websocket" : "relay";
      this._send("client-path", { path, reason: `the call is on the ${path}` });
      return;
    }
    if (this.mode === "always") return;
    const existed = this.pc !== null;
    const pc = this._ensurePeerConnection();
    this._armConnectTimer("the direct connection did not come up in time");
    if (!existed || this.polite) {
      // A new connection: the mentor's tracks fire negotiationneeded and it offers; the
      // mentee answers whatever offer comes.
      return;
    }
    if (fresh) {
      // The offer prepared while alone went to nobody: send it now, with the candidates
      // gathered since (they are in the local description by now).
      if (pc.signalingState === "have-local-offer" && !this.makingOffer) {
        mark("offer-sent");
        this.offerSentAt = performance.now();
        this._send("client-offer", { offer: plain(pc.localDescription) });
      }
      return;
    }
    await this._repair("the other side joined again");
  }

  /** A message from a page we have not seen: the old connection is dead, start over. */
  _adoptEpoch(epoch) {
    if (this.remoteEpoch !== null && this.pc) this._closePeerConnection();
    this.remoteEpoch = epoch;
    clearInterval(this.timers.hello);
    this.timers.hello = null;
  }

  async _onDescription(data, description) {
    if (!description || !description.type) return;
    if (this.onRelay || this.mode === "always") return;
    if (data.epoch !== this.remoteEpoch) {
      if (description.type !== "offer") return; // an answer to a connection we dropped
      this._adoptEpoch(data.epoch);
    }
    this.peerPresent = true;
    const pc = this._ensurePeerConnection();
    if (description.type === "answer" && pc.signalingState !== "have-local-offer") {
      return; // a second answer to an offer we sent twice
    }
    const readyForOffer =
      !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
    const collision = description.type === "offer" && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    this.settingRemoteAnswer = description.type === "answer";
    try {
      await pc.setRemoteDescription(description); // rolls back our own offer when polite
    } finally {
      this.settingRemoteAnswer = false;
    }
    mark(`${description.type}-received`);
    if (description.type === "offer") {
      // The answer goes out before it is applied here: the other side starts its media once
      // it has the answer, so applying ours (ICE gathering, transports) runs meanwhile instead
      // of first. Candidates gathered by that come after it on the same queue.
      const answer = await pc.createAnswer();
      mark("answer-sent");
      this._send("client-answer", { answer: plain(answer) });
      await pc.setLocalDescription(answer);
    }
  }

  async _onCandidate(data) {
    if (this.onRelay || data.epoch !== this.remoteEpoch || !this.pc) return;
    try {
      if (data.candidate) await this.pc.addIceCandidate(data.candidate);
      else await this.pc.addIceCandidate();
    } catch (error) {
      if (!this.ignoreOffer) console.warn("room: bad ICE candidate", error);
    }
  }

  // --- the peer-to-peer connection ------------------------------------------------------------

  _ensurePeerConnection() {
    if (this.pc) return this.pc;
    // max-bundle: one transport for audio and video, so candidates are gathered once.
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.evidence.watch(pc); // websocket path hook
    this.pc = pc;
    this.makingOffer = false;
    this.ignoreOffer = false;
    const tracks = this._sendable();
    for (const track of tracks) pc.addTrack(track, this.localStream);
    for (const kind of ["audio", "video"]) {
      if (!tracks.some((track) => track.kind === kind)) {
        pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
    pc.ontrack = (event) => this._onRemoteTrack(event.track);
    pc.onicecandidate = ({ candidate }) => {
      // Alone in the room nobody hears a candidate: the offer sent on their hello carries
      // every candidate gathered until then (see _offer).
      if (this.pc !== pc || !worthSending(candidate) || this.remoteEpoch === null) return;
      this._send(
        "client-ice-candidate",
        { candidate: candidate ? candidate.toJSON() : null },
        () => this.pc !== pc, // not worth sending any more once this connection is gone
      );
    };
    pc.onnegotiationneeded = () => this._enqueue(() => this._offer(pc));
    pc.oniceconnectionstatechange = () => this._onIceState(pc);
    this._armConnectTimer("the direct connection did not come up in time");
    this._startStats();
    return pc;
  }

  async _offer(pc) {
    if (this.pc !== pc || this.onRelay) return;
    // The mentor opens negotiations; the mentee only renegotiates an established call.
    if (this.polite && !pc.remoteDescription) return;
    if (pc.signalingState !== "stable") return;
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      // Alone in the room, the offer waits: _onHello sends it, with its candidates, when the
      // other page says hello. Sent to nobody it would only use up the hub's budget of
      // client events, and hold back the hello and offer the newcomer is waiting for.
      if (this.remoteEpoch === null) return;
      mark("offer-sent");
      this.offerSentAt = performance.now();
      this._send("client-offer", { offer: plain(pc.localDescription) });
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * Get a stuck or dropped connection going again. The mentor restarts ICE, or re-sends an
   * offer that may have been lost while the other side was offline; the mentee asks the
   * mentor to do so with a hello.
   */
  async _repair(reason) {
    if (this.onRelay || this.ended || this.mode === "always") return;
    if (this.polite) {
      if (!this._iceUp()) this._sayHello();
      return;
    }
    const pc = this.pc;
    if (!pc) {
      this._ensurePeerConnection();
      return;
    }
    if (this.makingOffer) return;
    if (pc.signalingState === "have-local-offer") {
      // An answer is probably on its way; re-send only an offer that has waited a while.
      if (performance.now() - this.offerSentAt > OFFER_PATIENCE_MS) {
        this.offerSentAt = performance.now();
        this._send("client-offer", { offer: plain(pc.localDescription) });
      }
      return;
    }
    if (pc.signalingState !== "stable" || this._iceUp()) return;
    console.info(`room: restarting ICE (${reason})`);
    if (pc.remoteDescription) pc.restartIce();
    else await this._offer(pc);
  }

  _onIceState(pc) {
    if (this.pc !== pc) return;
    const state = pc.iceConnectionState;
    this._emit("ice", { state });
    clearTimeout(this.timers.disconnected);
    this.timers.disconnected = null;
    if (state === "connected" || state === "completed") {
      mark("ice-connected");
      this.everConnected = true;
      clearTimeout(this.timers.connect);
      this.timers.connect = null;
      this._updatePath();
      return;
    }
    if (state === "failed") {
      if (!this.everConnected && this.mode === "auto" && this.peerPresent) {
        this._enqueue(() => this._moveToRelay("the direct connection failed", true));
        return;
      }
      this._armConnectTimer("the connection dropped and did not come back");
      this._enqueue(() => this._repair("ICE failed"));
      return;
    }
    if (state === "disconnected") {
      // Often a blip; if it lasts, restart ICE (and in auto mode fall back if that fails too).
      this.timers.disconnected = setTimeout(() => {
        if (this.pc !== pc || this._iceUp()) return;
        this._armConnectTimer("the connection dropped and did not come back");
        this._enqueue(() => this._repair("ICE disconnected"));
      }, DISCONNECTED_GRACE_MS);
    }
  }

  _iceUp() {
    const state = this.pc?.iceConnectionState;
    return state === "connected" || state === "completed";
  }

  _armConnectTimer(reason) {
    if (this.mode !== "auto" || this.timers.connect !== null || !this.peerPresent) return;
    this.timers.connect = setTimeout(() => {
      this.timers.connect = null;
      if (this.onRelay || this.ended || this._iceUp() || !this.peerPresent) return;
      this._enqueue(() => this._moveToRelay(reason, true));
    }, this.connectTimeoutMs);
  }

  _closePeerConnection() {
    clearTimeout(this.timers.connect);
    clearTimeout(this.timers.disconnected);
    this.timers.connect = null;
    this.timers.disconnected = null;
    const pc = this.pc;
    this.pc = null;
    if (pc) closeQuietly(pc);
    this.everConnected = false;
    this._clearRemote();
  }

  /** The other side ended the call: drop the connection; a new page of theirs starts over. */
  _peerLeft() {
    this.remoteEpoch = null;
    if (!this.onRelay) {
      this._closePeerConnection();
      this._setPath("none");
      if (this.mode !== "always") this._ensurePeerConnection(); // ready for their return
    }
    this._emit("peer", { present: false, how: "left the call" });
  }

  // --- remote media ------------------------------------------------------------------------------

  _onRemoteTrack(track) {
    for (const old of this.remoteStream.getTracks()) {
      if (old.kind === track.kind && old !== track) this.remoteStream.removeTrack(old);
    }
    if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
    this._emit("remote", { stream: this.remoteStream, track });
  }

  _clearRemote() {
    for (const track of this.remoteStream.getTracks()) this.remoteStream.removeTrack(track);
    this._emit("remote", { stream: this.remoteStream, track: null });
  }

  // --- path detection ------------------------------------------------------------------------------

  _startStats() {
    if (this.timers.stats !== null) return;
    this.timers.stats = setInterval(() => this._updatePath(), STATS_INTERVAL_MS);
  }

  async _updatePath() {
    if (this.onRelay) return;
    const pc = this.pc;
    if (!pc || !this._iceUp()) {
      this._setPath("none");
      return;
    }
    const path = await selectedPath(pc);
    if (this.pc === pc && !this.onRelay && path) this._setPath(path);
  }

  _setPath(path) {
    if (this.path === path) return;
    this.path = path;
    this._emit("path", { path, label: PATHS[path] });
  }

  // --- the outgoing video: camera or a shared screen (screen_share.js) -------------------------------

  /** The tracks to send: the local ones, with the override (a screen) instead of the camera. */
  _sendable() {
    const tracks = this.localStream ? this.localStream.getTracks() : [];
    if (!this.videoOverride) return tracks;
    return [...tracks.filter((track) => track.kind !== "video"), this.videoOverride];
  }

  /**
   * Send ``track`` instead of the camera (null: the camera again) on the live connection,
   * direct or relayed, without renegotiating: the same sender, SSRC and m-line carry it, and the
   * encoder starts the new picture (and size) with a keyframe. A connection made later (relay
   * fallback or reconnect) picks it up by itself. Only a side that sends no video at all
   * (no camera) needs a new negotiation.
   */
  async useVideo(track) {
    this.videoOverride = track;
    const camera = this.localStream?.getVideoTracks()[0] || null;
    const outgoing = track || camera;
    if (this.pc) {
      const transceiver = videoTransceiver(this.pc);
      if (transceiver) {
        await transceiver.sender.replaceTrack(outgoing);
        const direction = outgoing ? "sendrecv" : "recvonly";
        if (transceiver.direction !== direction) transceiver.direction = direction; // renegotiates
      }
    }
    if (this.relayPc) {
      const transceiver = videoTransceiver(this.relayPc);
      if (transceiver?.direction === "sendrecv") await transceiver.sender.replaceTrack(outgoing);
      else if (outgoing) this._enqueue(() => this._connectRelay(true)); // publish video anew
    }
  }

  // --- controls ------------------------------------------------------------------------------------

  setMicrophone(on) {
    for (const track of this.localStream?.getAudioTracks() || []) track.enabled = on;
  }

  setCamera(on) {
    for (const track of this.localStream?.getVideoTracks() || []) track.enabled = on;
  }

  hasTrack(kind) {
    return Boolean(this.localStream?.getTracks().some((track) => track.kind === kind));
  }

  /** The page is going away (reload, tab closed): say goodbye without waiting. */
  leaveNow() {
    if (this.ended) return;
    this.wsPath.stop(); // websocket path hook
    this.signaling.signalNow("client-bye", { from: this.me, epoch: this.epoch });
    if (this.onRelay) {
      api("POST", this._relayPath("leave"), undefined, { keepalive: true });
    }
    this.ended = true;
  }

  /** Stop every track and connection; tell the other side and the relay. */
  async end() {
    if (this.ended) return;
    const wasOnRelay = this.onRelay;
    await this._send("client-bye", {}).catch(() => false);
    this.ended = true;
    this.wsPath.stop(); // websocket path hook
    for (const timer of ["connect", "disconnected", "relayRetry"]) clearTimeout(this.timers[timer]);
    this.relayWatch?.stop();
    for (const timer of ["hello", "stats"]) clearInterval(this.timers[timer]);
    for (const pc of [this.pc, this.relayPc]) {
      for (const sender of pc?.getSenders() || []) sender.track?.stop();
      pc?.close();
    }
    this.pc = null;
    this.relayPc = null;
    for (const track of this.localStream?.getTracks() || []) track.stop();
    for (const track of this.remoteStream.getTracks()) track.stop();
    if (wasOnRelay) {
      await api("POST", this._relayPath("leave"), undefined, { keepalive: true });
    }
  }
}

// The media relay half of the call: _moveToRelay, _connectRelay, useRelay... (call_relay.js).
addRelayMethods(Call);
