// What ICE gathering tells about this network and the operator's TURN set-up, so the room can
// give the right verdict early:
// - a TURN server that answers but refuses our credentials (icecandidateerror 401) is a
//   configuration problem for the operator (the app's turn.shared_secret and coturn's differ),
//   not the user's network;
// - no server-reflexive candidate from a STUN server we were offered, a second or more into
//   gathering, means UDP does not leave this network (a STUN answer takes one round trip),
//   so waiting for a UDP path any longer only delays the call. Chromium drops a reflexive
//   candidate equal to a host candidate, so this is only concluded when the STUN server is
//   out on the internet (not this machine or its LAN) and no host address is public.

const STUN_PATIENCE_MS = 1000;

export const TURN_REFUSED_MESSAGE =
  "The TURN server refused this app's credentials: the operator must fix the TURN set-up " +
  "(turn.shared_secret differs from coturn's; `panamia doctor` shows it).";

export class IceEvidence {
  constructor(iceServers) {
    const urls = iceServers.flatMap((server) => [].concat(server.urls || []));
    this.stunOffered = urls.some((url) => /^stuns?:/.test(url) && !isLocalHost(hostOf(url)));
    this.turnOffered = urls.some((url) => /^turns?:/.test(url));
    this.types = new Set();
    this.turnRefused = false;
    this.publicHost = false;
    this.startedAt = null;
  }

  /** Listen to a peer connection's gathering (added next to the call's own handlers). */
  watch(pc) {
    if (this.startedAt === null) this.startedAt = performance.now();
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (candidate?.type) this.types.add(candidate.type);
      if (candidate?.type === "host" && candidate.address && !isLocalHost(candidate.address)) {
        this.publicHost = true; // no NAT: a reflexive candidate would equal this one
      }
    });
    pc.addEventListener("icecandidateerror", (event) => {
      const url = event.url || "";
      if (/^turns?:/.test(url) && (event.errorCode === 401 || event.errorCode === 403)) {
        this.turnRefused = true;
      }
    });
    return pc;
  }

  /** Resolves once gathering has run long enough for udpLooksBlocked() to be meaningful. */
  settle() {
    if (!this.stunOffered || this.startedAt === null) return Promise.resolve();
    const left = STUN_PATIENCE_MS - (performance.now() - this.startedAt);
    return left > 0 ? new Promise((resolve) => setTimeout(resolve, left)) : Promise.resolve();
  }

  /** True when gathering shows no way out over UDP (and no working TURN either). */
  udpLooksBlocked() {
    if (!this.stunOffered || this.publicHost || this.startedAt === null) return false;
    if (performance.now() - this.startedAt < STUN_PATIENCE_MS) return false;
    return !this.types.has("srflx") && !this.types.has("prflx") && !this.types.has("relay");
  }
}

/** The host part of a stun:/turn: URI. */
function hostOf(url) {
  const rest = url.replace(/^[a-z]+:/i, "").split("?")[0];
  if (rest.startsWith("[")) return rest.slice(1, rest.indexOf("]"));
  return rest.split(":")[0];
}

/** Loopback, private, link-local or .local: an address that says nothing about the way out. */
export function isLocalHost(host) {
  const name = host.toLowerCase();
  if (name === "localhost" || name.endsWith(".local") || name.endsWith(".localhost")) return true;
  const v4 = name.match(/^(\d+)\.(\d+)\.\d+\.\d+$/);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 10 || a === 127 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) ||
      (a === 169 && b === 254) || (a === 100 && b >= 64 && b < 128)
    );
  }
  if (name.includes(":")) return name === "::1" || /^f[cd]/.test(name) || name.startsWith("fe80");
  return false; // a DNS name: somewhere out there
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
