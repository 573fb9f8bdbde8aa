// Small helpers for RTCPeerConnection shared by the direct call (call.js) and its relay
// half (call_relay.js).

/**
 * The candidate pair a connection's statistics say it uses: the transport's selected pair, or
 * (browsers that do not report one) a nominated pair that succeeded; null before connecting.
 */
export function selectedPair(stats) {
  let pair = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pair = stats.get(report.selectedCandidatePairId) || pair;
    }
  });
  if (!pair) {
    stats.forEach((report) => {
      if (report.type === "candidate-pair" && report.state === "succeeded" && report.nominated) {
        pair = pair || report;
      }
    });
  }
  return pair;
}

/** The path of a connected RTCPeerConnection from its selected candidate pair. */
export async function selectedPath(pc) {
  const stats = await pc.getStats();
  const pair = selectedPair(stats);
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  const types = [local?.candidateType, remote?.candidateType];
  return types.includes("relay") ? "turn" : "direct";
}

/**
 * Active TCP host candidates only connect to a passive TCP candidate on the other side, and
 * neither browsers nor aiortc offer those; sending them would only eat into the hub's budget
 * of 10 client events per second.
 */
export function worthSending(candidate) {
  return !candidate || !(candidate.protocol === "tcp" && candidate.tcpType === "active");
}

export function videoTransceiver(pc) {
  return pc.getTransceivers().find((t) => t.receiver.track.kind === "video" && !t.stopped) || null;
}

/** Close a connection we dropped, so none of its handlers fires on its way out. */
export function closeQuietly(pc) {
  pc.ontrack = null;
  pc.onicecandidate = null;
  pc.onnegotiationneeded = null;
  pc.oniceconnectionstatechange = null;
  pc.close();
}

export function plain(description) {
  return { type: description.type, sdp: description.sdp };
}

export function gatheringDone(pc, limitMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(finish, limitMs);
    function finish() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") finish();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}
