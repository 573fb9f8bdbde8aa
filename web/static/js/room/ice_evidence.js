// What ICE gathering tells about this network and the operator's TURN set-up, so the room can
// give the right verdict early:
// - a TURN server that answers but refuses our credentials (icecandidateerror 401) is a
//   configuration problem for the operator (the app's turn.shared_secret and coturn's differ),
//   not the user's network;
// - no server-reflexive candidate from a STUN server we were offered, a second or more into
//   gathering, means UDP does not leave this network (a STUN answer takes one round trip),
//   so waiting for a UDP path any longer only delays the call.

const STUN_PATIENCE_MS = 1000;

export const TURN_REFUSED_MESSAGE =
  "The TURN server refused this app's credentials: the operator must fix the TURN set-up " +
  "(turn.shared_secret differs from coturn's; `panamia doctor` shows it).";

export class IceEvidence {
  constructor(iceServers) {
    const urls = iceServers.flatMap((server) => [].concat(server.urls || []));
    this.stunOffered = urls.some((url) => /^stuns?:/.test(url));
    this.turnOffered = urls.some((url) => /^turns?:/.test(url));
    this.types = new Set();
    this.turnRefused = false;
    this.startedAt = null;
  }

  /** Listen to a peer connection's gathering (added next to the call's own handlers). */
  watch(pc) {
    if (this.startedAt === null) this.startedAt = performance.now();
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (candidate?.type) this.types.add(candidate.type);
    });
    pc.addEventListener("icecandidateerror", (event) => {
      const url = event.url || "";
      if (/^turns?:/.test(url) && (event.errorCode === 401 || event.errorCode === 403)) {
        this.turnRefused = true;
      }
    });
    return pc;
  }

  /** True when gathering shows no way out over UDP (and no working TURN either). */
  udpLooksBlocked() {
    if (!this.stunOffered || this.startedAt === null) return false;
    if (performance.now() - this.startedAt < STUN_PATIENCE_MS) return false;
    return !this.types.has("srflx") && !this.types.has("prflx") && !this.types.has("relay");
  }
}

/**
 * Gather once with the given servers and say whether a server-reflexive or relay candidate
 * shows up within ``limitMs`` (UDP leaves the network, or TURN works): the background check
 * that a call on the websocket path may move back to the relay.
 */
export async function udpReachable(iceServers, limitMs = 2500) {
  const pc = new RTCPeerConnection({ iceServers });
  try {
    pc.createDataChannel("probe");
    const found = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), limitMs);
      pc.addEventListener("icecandidate", ({ candidate }) => {
        if (candidate && (candidate.type === "srflx" || candidate.type === "relay")) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    await pc.setLocalDescription();
    return await found;
  } finally {
    pc.close();
  }
}
