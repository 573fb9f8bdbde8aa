// The receiving half of the websocket path (ws_media.js): decodes the other side's chunks with
// VideoDecoder/AudioDecoder into MediaStreamTrackGenerator tracks that the room shows like any
// remote track. A decoder that falls behind skips delta frames until the next key frame and
// asks the sender for one (at most every 300 ms); the renderer drops a frame
// rather than queue it.

import { HEADER_BYTES, KIND, keep, nowUs } from "./ws_wire.js";

const KEYFRAME_MIN_GAP_MS = 300;
const DECODE_QUEUE_LIMIT = 6;

export class MediaReceiver {
  /**
   * @param {{sendText: (message: object) => void, stats: object,
   *   onTrack: (track: MediaStreamTrack) => void}} options
   */
  constructor({ sendText, stats, onTrack }) {
    this._sendText = sendText;
    this.stats = stats;
    this.onTrack = onTrack;
    this.videoDecoder = null;
    this.audioDecoder = null;
    this.awaitKey = true;
    this.lastKeyRequestAt = 0;
    this.videoOut = null;
    this.audioOut = null;
  }

  /** The sender's ``config`` message: set up the decoders once. */
  configure(message) {
    this._configureDecoders(message);
  }

  /** A binary frame from the socket. */
  chunk(buffer) {
    this._onChunk(buffer);
  }

  _configureDecoders(message) {
    if (message.video && !this.videoDecoder) {
      this.videoOut = new MediaStreamTrackGenerator({ kind: "video" });
      const writer = this.videoOut.writable.getWriter();
      this.videoDecoder = new VideoDecoder({
        output: (frame) => this._render(writer, frame),
        error: (error) => {
          console.warn("ws media: video decoder", error);
          this.awaitKey = true;
        },
      });
      this.videoDecoder.configure({ codec: message.video.codec, optimizeForLatency: true });
      this.awaitKey = true;
      this._askForKeyframe();
      this.onTrack(this.videoOut);
    }
    if (message.audio && !this.audioDecoder) {
      this.audioOut = new MediaStreamTrackGenerator({ kind: "audio" });
      const writer = this.audioOut.writable.getWriter();
      this.audioDecoder = new AudioDecoder({
        output: (audio) => {
          if (writer.desiredSize !== null && writer.desiredSize <= -4) audio.close();
          else writer.write(audio).catch(() => audio.close());
        },
        error: (error) => console.warn("ws media: audio decoder", error),
      });
      this.audioDecoder.configure(message.audio);
      this.onTrack(this.audioOut);
    }
  }

  _render(writer, frame) {
    const captureUs = frame.timestamp;
    this.stats.decoded += 1;
    keep(this.stats.latencyMs, (nowUs() - captureUs) / 1000);
    if (writer.desiredSize !== null && writer.desiredSize <= -2) {
      frame.close(); // the renderer is behind: show the next one instead
      return;
    }
    writer.write(frame).catch(() => frame.close());
  }

  _onChunk(buffer) {
    if (buffer.byteLength <= HEADER_BYTES) return;
    const view = new DataView(buffer);
    const kind = view.getUint8(0);
    const timestamp = Number(view.getBigUint64(6));
    const data = new Uint8Array(buffer, HEADER_BYTES);
    this.stats.received += 1;
    if (kind !== KIND.audio) keep(this.stats.arriveMs, (nowUs() - timestamp) / 1000);
    if (kind === KIND.audio) {
      if (this.audioDecoder?.state === "configured") {
        this.audioDecoder.decode(new EncodedAudioChunk({ type: "key", timestamp, data }));
      }
      return;
    }
    const decoder = this.videoDecoder;
    if (!decoder || decoder.state !== "configured") return;
    const key = kind === KIND.key;
    if (!key && decoder.decodeQueueSize > DECODE_QUEUE_LIMIT) this.awaitKey = true; // behind
    if (this.awaitKey && !key) {
      this.stats.dropped += 1;
      this._askForKeyframe();
      return;
    }
    this.awaitKey = false;
    decoder.decode(new EncodedVideoChunk({ type: key ? "key" : "delta", timestamp, data }));
  }

  _askForKeyframe() {
    const now = performance.now();
    if (now - this.lastKeyRequestAt < KEYFRAME_MIN_GAP_MS) return;
    this.lastKeyRequestAt = now;
    this._sendText({ type: "keyframe" });
  }

  /** Stop sending and receiving; the generated tracks end. */
  stop() {
    for (const codec of [this.videoDecoder, this.audioDecoder]) {
      if (codec && codec.state !== "closed") codec.close();
    }
    this.videoOut?.stop();
    this.audioOut?.stop();
  }
}
