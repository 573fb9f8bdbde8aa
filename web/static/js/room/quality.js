// Call quality: every 5 seconds, summarise the call's RTCPeerConnection statistics (round-trip
// time, jitter, loss, bitrate in and out, frame rate, resolution, why the sent video is limited,
// candidate types, path), post the summary to the server (the operator console and the
// session's quality summary), and tell the participant when their connection is poor.
//
// The figures are display data: the server checks their ranges and never acts on them.

import { selectedPair } from "./peer_util.js";

export const REPORT_INTERVAL_MS = 5000;
/** Loss at or above this percentage counts as poor (the server uses the same value). */
export const POOR_LOSS_PCT = 5;
/** Received video below this frame rate counts as poor. */
export const POOR_FPS = 10;
/** How many poor reports in a row before the room says so (sustained, not a blip). */
const POOR_STREAK = 2;

const ADVICE = {
  loss:
    "Your connection is losing data: the video may freeze. Move closer to the Wi-Fi router, " +
    "use a cable, or close other apps and tabs that use the network.",
  fps:
    "The video is choppy. Close other apps and tabs, or turn your camera off for a moment " +
    "to give the connection room.",
};

/**
 * Post one report. Not through api.js: a report must never send the page to sign-in (a 401
 * mid-call) or bother anyone when refused; it is display data, and the next one follows.
 */
function post(url, body, keepalive = false) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    keepalive,
  }).catch(() => undefined);
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function round(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function clamp(value, low, high) {
  if (value === null) return null;
  return Math.min(high, Math.max(low, value));
}

const CANDIDATE_TYPES = new Set(["host", "srflx", "prflx", "relay"]);
const LIMITATIONS = new Set(["none", "cpu", "bandwidth", "other"]);

/** Counters of the previous look, to turn totals into rates. */
class Totals {
  constructor() {
    this.at = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.lost = 0;
    this.received = 0;
  }
}

/**
 * One summary of ``pc``'s statistics since ``previous`` (updated in place).
 * Exported for the tests' sake: it reads only standard getStats() fields.
 */
export async function summarise(pc, previous, onRelay) {
  const stats = await pc.getStats();
  let bytesIn = 0;
  let bytesOut = 0;
  let lost = 0;
  let received = 0;
  let jitter = null;
  let fps = null;
  let width = null;
  let height = null;
  let limitation = null;
  let remoteRtt = null;
  stats.forEach((report) => {
    if (report.type === "inbound-rtp") {
      bytesIn += report.bytesReceived || 0;
      lost += Math.max(0, report.packetsLost || 0);
      received += report.packetsReceived || 0;
      if (report.kind === "video") {
        if (typeof report.jitter === "number") jitter = report.jitter * 1000;
        if (typeof report.framesPerSecond === "number") fps = report.framesPerSecond;
        if (report.frameWidth) width = report.frameWidth;
        if (report.frameHeight) height = report.frameHeight;
      } else if (jitter === null && typeof report.jitter === "number") {
        jitter = report.jitter * 1000;
      }
    } else if (report.type === "outbound-rtp") {
      bytesOut += report.bytesSent || 0;
      if (report.kind === "video" && report.qualityLimitationReason) {
        limitation = report.qualityLimitationReason;
      }
    } else if (report.type === "remote-inbound-rtp" && typeof report.roundTripTime === "number") {
      remoteRtt = report.roundTripTime * 1000;
    }
  });
  const pair = selectedPair(stats);
  const local = pair ? stats.get(pair.localCandidateId) : null;
  const remote = pair ? stats.get(pair.remoteCandidateId) : null;
  let rtt = null;
  if (pair && typeof pair.currentRoundTripTime === "number") rtt = pair.currentRoundTripTime * 1000;
  if (rtt === null) rtt = remoteRtt;

  const now = performance.now();
  const seconds = previous.at ? (now - previous.at) / 1000 : 0;
  const rate = (bytes, before) => (seconds > 0 ? Math.max(0, ((bytes - before) * 8) / 1000 / seconds) : null);
  const newLost = lost - previous.lost;
  const newReceived = received - previous.received;
  const lossPct =
    previous.at && newLost + newReceived > 0 ? (100 * Math.max(0, newLost)) / (newLost + newReceived) : previous.at ? 0 : null;
  const report = {
    path: pathOf(onRelay, pair, local, remote),
    rttMs: clamp(round(rtt), 0, 60000),
    jitterMs: clamp(round(jitter), 0, 60000),
    lossPct: clamp(round(lossPct, 2), 0, 100),
    bitrateInKbps: clamp(round(rate(bytesIn, previous.bytesIn)), 0, 1000000),
    bitrateOutKbps: clamp(round(rate(bytesOut, previous.bytesOut)), 0, 1000000),
    fps: clamp(round(fps), 0, 240),
    width: width ? clamp(width, 0, 16384) : null,
    height: height ? clamp(height, 0, 16384) : null,
    limitation: LIMITATIONS.has(limitation) ? limitation : null,
    localCandidate: CANDIDATE_TYPES.has(local?.candidateType) ? local.candidateType : null,
    remoteCandidate: CANDIDATE_TYPES.has(remote?.candidateType) ? remote.candidateType : null,
  };
  Object.assign(previous, { at: now, bytesIn, bytesOut, lost, received });
  return report;
}

function pathOf(onRelay, pair, local, remote) {
  if (onRelay) return "relay";
  if (!pair) return "none";
  if (local?.candidateType === "relay") {
    const protocol = local.relayProtocol || "udp";
    return protocol === "tcp" ? "turn-tcp" : protocol === "tls" ? "turn-tls" : "turn-udp";
  }
  if (remote?.candidateType === "relay") return "turn-udp";
  return "direct";
}

function joinMs() {
  const frame = performance.getEntriesByName("room:first-remote-frame")[0];
  return frame ? Math.min(3600000, Math.round(frame.startTime)) : null;
}

/**
 * Start reporting for the room's call.
 * @param {object} config the room config (sessionId)
 * @param {import("./call.js").Call} call
 * @param {HTMLElement} anchor the poor-connection notice goes right after this element
 */
export function startQuality(config, call, anchor) {
  const connectionId = randomId();
  const url = `/api/mentoring/sessions/${encodeURIComponent(config.sessionId)}/quality`;
  const notice = document.createElement("p");
  notice.className = "notice notice--dev quality-notice";
  notice.id = "quality-notice";
  notice.setAttribute("role", "status");
  notice.hidden = true;
  anchor.insertAdjacentElement("afterend", notice);

  let totals = new Totals();
  let watched = null;
  let last = null;
  let joinSent = false;
  let poorStreak = 0;
  let stopped = false;

  /** Show or hide the poor-connection notice after one report (two poor ones in a row). */
  function advise(report) {
    const lossy = report.lossPct !== null && report.lossPct >= POOR_LOSS_PCT;
    const slow = report.fps !== null && report.fps < POOR_FPS && report.path !== "none";
    poorStreak = lossy || slow ? poorStreak + 1 : 0;
    const show = poorStreak >= POOR_STREAK;
    notice.hidden = !show;
    notice.dataset.reason = show ? (lossy ? "loss" : "fps") : "";
    if (show) notice.textContent = ADVICE[lossy ? "loss" : "fps"];
  }

  async function tick() {
    if (stopped || call.ended) return;
    const pc = call.onRelay ? call.relayPc : call.pc;
    if (!pc) return;
    if (pc !== watched) {
      watched = pc;
      totals = new Totals();
    }
    let report;
    try {
      report = await summarise(pc, totals, call.onRelay);
    } catch {
      return; // the connection closed meanwhile
    }
    if (report.path === "none" && report.bitrateInKbps === null) return; // not up yet
    advise(report);
    const body = { connectionId, ...report };
    const join = joinSent ? null : joinMs();
    if (join !== null) {
      body.joinMs = join;
      joinSent = true;
    }
    last = body;
    window.panamiaQuality = { last: body, notice };
    await post(url, body);
  }

  const timer = setInterval(tick, REPORT_INTERVAL_MS);

  /** The call ended here: one last report, so the session's summary is complete now. */
  function finish() {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    if (last) post(url, { ...last, joinMs: undefined, final: true }, true);
  }
  document.getElementById("btn-end")?.addEventListener("click", finish, { capture: true });
  window.addEventListener("pagehide", finish);
  return { finish, tick, advise };
}
