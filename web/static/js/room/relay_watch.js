// Watches a connection to the media relay and says when it no longer carries media.
//
// A relay that went away (a crash, a restart: the new process knows nothing of this call)
// shows in the browser as ICE going to "disconnected" and later "failed", and, sooner, as
// the remote video no longer decoding frames. Either, lasting a few seconds, means the
// connection is lost: the caller then negotiates a fresh one.

const CHECK_INTERVAL_MS = 1000;
/** How long ICE may stay disconnected before the connection counts as lost. */
export const RELAY_DISCONNECTED_LIMIT_MS = 3000;
/** How long decoded video may stand still (after it had flowed) before the connection is lost. */
export const RELAY_STALL_LIMIT_MS = 4000;
/** After this long without frames the status says the video is stalled (before giving up). */
const STALL_NOTICE_MS = 1500;
/** A replacement connection that is not up by then is lost too (a first one is left alone). */
export const RELAY_CONNECT_GIVEUP_MS = 10000;

export class RelayWatch {
  /**
   * @param {RTCPeerConnection} pc the connection to the relay
   * @param {object} hooks
   * @param {() => boolean} hooks.expectVideo whether remote video should be flowing now
   * @param {(healthy: boolean) => void} hooks.onHealth media flows (true) or stands still (false)
   * @param {(reason: string) => void} hooks.onLost the connection is lost, called once
   * @param {boolean} hooks.replacement a replacement gives up when it never comes up; a
   *   first connection only once it has been up (its page explains a network that blocks it)
   */
  constructor(pc, { expectVideo, onHealth, onLost, replacement = false }) {
    this.pc = pc;
    this.expectVideo = expectVideo;
    this.onHealth = onHealth;
    this.onLost = onLost;
    this.framesDecoded = 0;
    this.framesSeen = false;
    this.lastProgressAt = performance.now();
    this.badSince = null;
    this.healthy = null;
    this.stopped = false;
    this.wasUp = false;
    this.replacement = replacement;
    this.startedAt = performance.now();
    this.timer = setInterval(() => this._check(), CHECK_INTERVAL_MS);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
  }

  async _check() {
    if (this.stopped) return;
    const now = performance.now();
    const ice = this.pc.iceConnectionState;
    const state = this.pc.connectionState;
    if (ice === "connected" || ice === "completed") this.wasUp = true;
    if (!this.wasUp) {
      if (!this.replacement) return;
      if (ice === "failed" || now - this.startedAt >= RELAY_CONNECT_GIVEUP_MS) {
        return this._lost("the new relay connection did not come up");
      }
      return;
    }
    if (ice === "failed" || state === "failed" || state === "closed") {
      return this._lost(`the relay connection ${state === "closed" ? "closed" : "failed"}`);
    }
    const iceBad = ice === "disconnected" || state === "disconnected";
    if (iceBad) {
      this.badSince = this.badSince ?? now;
      if (now - this.badSince >= RELAY_DISCONNECTED_LIMIT_MS) {
        return this._lost("the relay connection is disconnected");
      }
    } else {
      this.badSince = null;
    }
    const frames = await framesDecoded(this.pc);
    if (this.stopped) return;
    if (frames > this.framesDecoded) {
      this.framesDecoded = frames;
      this.framesSeen = true;
      this.lastProgressAt = now;
    } else if (!this.expectVideo()) {
      this.lastProgressAt = now; // nobody sends: standing still is expected
    }
    const stalledFor = this.framesSeen ? now - this.lastProgressAt : 0;
    if (stalledFor >= RELAY_STALL_LIMIT_MS) return this._lost("no video arrived for a few seconds");
    const up = ice === "connected" || ice === "completed";
    this._health(up && !iceBad && stalledFor < STALL_NOTICE_MS);
  }

  _health(healthy) {
    if (this.healthy === healthy) return;
    this.healthy = healthy;
    this.onHealth(healthy);
  }

  _lost(reason) {
    if (this.stopped) return;
    this.stop();
    this.onLost(reason);
  }
}

/** Frames decoded so far on the connection's incoming video (0 when there is none). */
async function framesDecoded(pc) {
  try {
    const stats = await pc.getStats();
    let total = 0;
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") {
        total += report.framesDecoded || 0;
      }
    });
    return total;
  } catch {
    return 0; // a closed connection has no stats; its state says the rest
  }
}
