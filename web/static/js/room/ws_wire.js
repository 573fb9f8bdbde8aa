// The websocket media path's wire format, shared by the sending (ws_media.js) and receiving
// (ws_receive.js) halves; the server's side is web/wsmedia/protocol.py. A binary frame is a
// 14-byte header (kind u8, a reserved byte, sequence u32, capture time u64 in microseconds
// since the epoch) and the encoded chunk.

export const HEADER_BYTES = 14;
export const KIND = { key: 1, delta: 2, audio: 3 };

/** Microseconds since the epoch on the page's own clock. */
export function nowUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Keep the last 600 plausible figures (ms) of a statistic. */
export function keep(list, valueMs) {
  if (!(valueMs >= 0 && valueMs < 60_000)) return;
  list.push(valueMs);
  if (list.length > 600) list.shift();
}
