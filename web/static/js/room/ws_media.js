// Media over the server's websocket (/ws/media/{sessionId}) for networks where no UDP path
// exists: the camera and microphone are encoded here with WebCodecs (VP8 and Opus, frames
// from MediaStreamTrackProcessor), sent as chunks, and the other side's chunks are decoded
// into MediaStreamTrackGenerator tracks, so the room shows them in the usual video element.
//
// Wire format (web/wsmedia/protocol.py): binary frames are a 14-byte header (kind u8: 1 key
// frame, 2 delta frame, 3 audio; a reserved byte; sequence u32; capture time u64 in
// microseconds since the epoch) and the chunk; text frames are JSON controls: config,
// keyframe, and from the server peer and slow-down.
//
// This module sends; ws_receive.js decodes what arrives.
//
// Congestion: the browser's send buffer (bufferedAmount) is the queue. When it holds more than
// a little, video chunks are dropped until the next key frame and the frame rate and bitrate
// go down; they climb back slowly while the buffer stays empty. Audio is sent unless the
// buffer is far behind, so speech never waits for video. The receiver drops video until a
// key frame (and asks for one) when its decoder falls behind.

import { MediaReceiver } from "./ws_receive.js";
import { HEADER_BYTES, KIND, nowUs, keep } from "./ws_wire.js";

const VIDEO = { width: 640, height: 480, codec: "vp8" };
// Sizes to encode at, largest first: a slow encoder or link steps down (frames are scaled).
const SIZES = [
  [640, 480],
  [480, 360],
  [320, 240],
];
const SLOW_ENCODE_MS = 120; // an encoder this slow per frame shows video late: send less
const MAX_BITRATE = 800_000;
const MIN_BITRATE = 150_000;
const MAX_FPS = 20;
const MIN_FPS = 5;
const KEYFRAME_EVERY_MS = 4000;
const SEND_BUFFER_VIDEO_LIMIT = 96 * 1024; // bytes queued in the socket before video waits
const SEND_BUFFER_AUDIO_LIMIT = 1024 * 1024; // audio is dropped only this far behind
const RECOVER_AFTER_MS = 3000;

export class WsMedia extends EventTarget {
  /**
   * @param {{sessionId: string, localStream: MediaStream|null}} options
   */
  constructor({ sessionId, localStream }) {
    super();
    this.sessionId = sessionId;
    this.localStream = localStream;
    this.ws = null;
    this.closed = false;
    this.sequence = 0;
    this.fps = MAX_FPS;
    this.bitrate = MAX_BITRATE;
    this.size = 0; // index into SIZES
    this.encodeMsAverage = 0;
    this.lastKeyframeAt = 0;
    this.keyframeWanted = true;
    this.skipVideoUntilKey = false;
    this.lastCongestionAt = 0;
    this.lastFrameSentAt = 0;
    this.videoEncoder = null;
    this.inEncoder = 0;
    this.audioEncoder = null;
    this.audioConfig = null;
    this.readers = [];
    // latencyMs: capture -> decoded here (other side's clock = ours: same machine in tests)
    this.stats = { sent: 0, received: 0, decoded: 0, dropped: 0, latencyMs: [], encodeMs: [], arriveMs: [] };
    this.receiver = new MediaReceiver({
      sendText: (message) => this._sendText(message),
      stats: this.stats,
      onTrack: (track) => this._emit("track", { track }),
    });
  }

  /** Open the socket and start sending; resolves once the socket is open. */
  start() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/media/${encodeURIComponent(this.sessionId)}`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (event) => this._onMessage(event.data);
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this._emit("closed", { code: event.code, reason: event.reason });
    };
    return new Promise((resolve, reject) => {
      ws.onopen = () => {
        this._startVideo();
        this._startAudio();
        this._sendConfig();
        resolve();
      };
      ws.onerror = () => reject(new Error("The media websocket could not be opened."));
    });
  }

  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // --- sending ---------------------------------------------------------------------------------

  _sendConfig() {
    const config = { type: "config", video: { codec: VIDEO.codec, width: VIDEO.width, height: VIDEO.height } };
    if (this.audioConfig) config.audio = this.audioConfig;
    this._sendText(config);
  }

  _sendText(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  _sendChunk(kind, captureUs, chunk) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const frame = new Uint8Array(HEADER_BYTES + chunk.byteLength);
    const view = new DataView(frame.buffer);
    view.setUint8(0, kind);
    view.setUint32(2, this.sequence++ >>> 0);
    view.setBigUint64(6, BigInt(captureUs));
    chunk.copyTo(frame.subarray(HEADER_BYTES));
    ws.send(frame);
    this.stats.sent += 1;
  }

  _startVideo() {
    const track = this.localStream?.getVideoTracks()[0];
    if (!track) return;
    const capture = new Map(); // encoder timestamp -> capture time
    this.videoEncoder = new VideoEncoder({
      output: (chunk) => {
        const captureUs = capture.get(chunk.timestamp) ?? nowUs();
        capture.delete(chunk.timestamp);
        this.inEncoder = Math.max(0, this.inEncoder - 1);
        const encodeMs = (nowUs() - captureUs) / 1000;
        keep(this.stats.encodeMs, encodeMs);
        this.encodeMsAverage = 0.8 * this.encodeMsAverage + 0.2 * encodeMs;
        if (this.encodeMsAverage > SLOW_ENCODE_MS) {
          this.encodeMsAverage = 0;
          this._slowDown("the encoder falls behind");
        }
        this._onVideoChunk(chunk, captureUs);
      },
      error: (error) => console.warn("ws media: video encoder", error),
    });
    this._configureVideo();
    const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    this.readers.push(reader);
    const pump = async () => {
      while (!this.closed) {
        const { value: frame, done } = await reader.read();
        if (done || !frame) return;
        this._encodeFrame(frame, capture);
      }
    };
    pump().catch((error) => console.warn("ws media: camera", error));
  }

  _configureVideo() {
    this.inEncoder = 0; // a new configuration drops what was waiting
    const [width, height] = SIZES[this.size];
    this.videoEncoder.configure({
      codec: VIDEO.codec,
      width,
      height,
      bitrate: this.bitrate,
      framerate: this.fps,
      latencyMode: "realtime",
    });
    this.keyframeWanted = true;
  }

  _encodeFrame(frame, capture) {
    try {
      const now = performance.now();
      const encoder = this.videoEncoder;
      const due = now - this.lastFrameSentAt >= 1000 / this.fps - 2;
      // One frame in the encoder at a time: a frame waiting behind another is shown late.
      if (!encoder || encoder.state !== "configured" || !due || this.inEncoder > 0) return;
      this._relaxIfQuiet(now);
      const keyFrame =
        this.keyframeWanted || now - this.lastKeyframeAt > KEYFRAME_EVERY_MS || this.skipVideoUntilKey;
      if (this.skipVideoUntilKey && (this.ws?.bufferedAmount ?? 0) > SEND_BUFFER_VIDEO_LIMIT) return;
      this.lastFrameSentAt = now;
      if (keyFrame) {
        this.keyframeWanted = false;
        this.lastKeyframeAt = now;
      }
      capture.set(frame.timestamp, nowUs());
      if (capture.size > 60) capture.delete(capture.keys().next().value);
      this.inEncoder += 1;
      encoder.encode(frame, { keyFrame });
    } finally {
      frame.close();
    }
  }

  _onVideoChunk(chunk, captureUs) {
    const key = chunk.type === "key";
    if ((this.ws?.bufferedAmount ?? 0) > SEND_BUFFER_VIDEO_LIMIT) {
      // The socket backs up: drop video until the next key frame and send less.
      this.stats.dropped += 1;
      if (!this.skipVideoUntilKey) this._slowDown("the websocket backs up");
      this.skipVideoUntilKey = true;
      return;
    }
    if (this.skipVideoUntilKey && !key) {
      this.stats.dropped += 1;
      this.keyframeWanted = true;
      return;
    }
    this.skipVideoUntilKey = false;
    this._sendChunk(key ? KIND.key : KIND.delta, captureUs, chunk);
  }

  /** Lower the frame rate and the bitrate (congestion here or at the receiver). */
  _slowDown(reason) {
    const now = performance.now();
    if (now - this.lastCongestionAt < 500) return;
    this.lastCongestionAt = now;
    this.fps = Math.max(MIN_FPS, Math.round(this.fps * 0.7));
    this.bitrate = Math.max(MIN_BITRATE, Math.round(this.bitrate / 2));
    this.size = Math.min(SIZES.length - 1, this.size + 1);
    console.info(
      `ws media: ${reason}; now ${SIZES[this.size].join("x")} at ${this.fps} fps,` +
        ` ${Math.round(this.bitrate / 1000)} kbit/s`,
    );
    if (this.videoEncoder?.state === "configured") this._configureVideo();
  }

  /** Climb back towards full quality while nothing has backed up for a while. */
  _relaxIfQuiet(now) {
    if (now - this.lastCongestionAt < RECOVER_AFTER_MS) return;
    if (this.fps >= MAX_FPS && this.bitrate >= MAX_BITRATE && this.size === 0) return;
    this.lastCongestionAt = now - RECOVER_AFTER_MS / 2; // one step per 1.5 s at most
    this.fps = Math.min(MAX_FPS, this.fps + 3);
    const bitrate = Math.min(MAX_BITRATE, Math.round(this.bitrate * 1.25));
    const size = bitrate >= MAX_BITRATE ? Math.max(0, this.size - 1) : this.size;
    if (bitrate !== this.bitrate || size !== this.size) {
      this.bitrate = bitrate;
      this.size = size;
      this._configureVideo();
    }
  }

  _startAudio() {
    const track = this.localStream?.getAudioTracks()[0];
    if (!track) return;
    this.audioEncoder = new AudioEncoder({
      output: (chunk) => {
        if ((this.ws?.bufferedAmount ?? 0) > SEND_BUFFER_AUDIO_LIMIT) {
          this.stats.dropped += 1;
          return;
        }
        this._sendChunk(KIND.audio, nowUs(), chunk);
      },
      error: (error) => console.warn("ws media: audio encoder", error),
    });
    const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    this.readers.push(reader);
    const pump = async () => {
      while (!this.closed) {
        const { value: data, done } = await reader.read();
        if (done || !data) return;
        try {
          if (!this.audioConfig) {
            const config = {
              codec: "opus",
              sampleRate: data.sampleRate,
              numberOfChannels: Math.min(2, data.numberOfChannels),
            };
            const { supported } = await AudioEncoder.isConfigSupported({ ...config, bitrate: 32_000 });
            if (!supported) {
              console.warn(`ws media: no Opus encoder for ${data.sampleRate} Hz; sending video only`);
              reader.cancel().catch(() => undefined);
              return;
            }
            this.audioConfig = config;
            this.audioEncoder.configure({ ...config, bitrate: 32_000 });
            this._sendConfig();
          }
          if (this.audioEncoder.state === "configured") this.audioEncoder.encode(data);
        } finally {
          data.close();
        }
      }
    };
    pump().catch((error) => console.warn("ws media: microphone", error));
  }

  _requestKeyframe() {
    this.keyframeWanted = true;
  }

  // --- receiving --------------------------------------------------------------------------------

  _onMessage(data) {
    if (typeof data === "string") {
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      this._onControl(message);
      return;
    }
    this.receiver.chunk(data);
  }

  _onControl(message) {
    switch (message.type) {
      case "config":
        this.receiver.configure(message);
        return;
      case "keyframe":
        this._requestKeyframe();
        return;
      case "slow-down":
        this._slowDown("the other side falls behind");
        this._requestKeyframe();
        return;
      case "peer":
        if (message.present) {
          this._sendConfig();
          this._requestKeyframe();
        }
        this._emit("peer", { present: Boolean(message.present) });
        return;
      default:
        return;
    }
  }

  stop() {
    if (this.closed) return;
    this.closed = true;
    for (const reader of this.readers) reader.cancel().catch(() => undefined);
    for (const codec of [this.videoEncoder, this.audioEncoder]) {
      if (codec && codec.state !== "closed") codec.close();
    }
    this.receiver.stop();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "left");
  }
}
