// The room's connection to our Pusher-protocol hub (pusher-js, vendored as window.Pusher).
//
// Two channels per session: private-session-{id} carries the WebRTC signaling
// (client-offer/answer/ice-candidate/hello/path/bye), presence-session-{id} carries chat and
// tells who is in the room. pusher-js reconnects with backoff by itself and resubscribes;
// every time both subscriptions succeed (first join and every rejoin) `onReady` runs, and the
// room sends client-hello so the other side can (re)start negotiation.
//
// The hub accepts at most 10 client events per second per connection, so every client event
// goes through one paced queue.

import { mark } from "./marks.js";

const RATE_WINDOW_MS = 1000;
const RATE_MAX = 8; // below the hub's 10/s, leaving room for clock jitter
const MAX_EVENT_BYTES = 10 * 1024;

export class Signaling {
  /**
   * @param {object} config the room config (sessionId, pusherKey, email)
   * @param {object} handlers {onSignal(event, data), onChat(data), onReady(rejoin),
   *   onState(state), onMembers(members), onMemberAdded(member), onMemberRemoved(member),
   *   onRefused(channel, status)}
   */
  constructor(config, handlers) {
    this.config = config;
    this.handlers = handlers;
    this.queue = [];
    this.sentAt = [];
    this.timer = null;
    this.subscribed = { private: false, presence: false };
    this.readyCount = 0;
    this.pusher = null;
    this.privateChannel = null;
    this.presenceChannel = null;
    this.listeners = [];
  }

  /**
   * Also hand private-channel event ``name`` to ``handler(data)``: for room features kept in
   * their own modules (camera/microphone state, screen sharing, recording). Works before and
   * after connect().
   */
  listen(name, handler) {
    this.listeners.push([name, handler]);
    this.privateChannel?.bind(name, handler);
  }

  connect() {
    if (typeof window.Pusher !== "function") {
      throw new Error("pusher-js did not load");
    }
    mark("hub-connect");
    const port = window.location.port;
    this.pusher = new window.Pusher(this.config.pusherKey, {
      wsHost: window.location.hostname,
      wsPort: port || 80,
      wssPort: port || 443,
      forceTLS: window.location.protocol === "https:",
      enabledTransports: ["ws", "wss"],
      cluster: "panamia",
      disableStats: true,
      channelAuthorization: { endpoint: "/api/pusher/auth", transport: "ajax" },
    });
    this.pusher.connection.bind("state_change", ({ current }) => this._onState(current));
    const id = this.config.sessionId;
    this.privateChannel = this._subscribe("private", `private-session-${id}`);
    this.presenceChannel = this._subscribe("presence", `presence-session-${id}`);

    for (const name of ["client-offer", "client-answer", "client-ice-candidate", "client-hello",
      "client-path", "client-bye"]) {
      this.privateChannel.bind(name, (data) => this.handlers.onSignal?.(name, data));
    }
    for (const [name, handler] of this.listeners) this.privateChannel.bind(name, handler);
    this.presenceChannel.bind("client-chat-message", (data) => this.handlers.onChat?.(data));
    this.presenceChannel.bind("pusher:subscription_succeeded", (members) => {
      this.handlers.onMembers?.(listMembers(members));
    });
    this.presenceChannel.bind("pusher:member_added", (member) => {
      this.handlers.onMemberAdded?.(memberOf(member));
    });
    this.presenceChannel.bind("pusher:member_removed", (member) => {
      this.handlers.onMemberRemoved?.(memberOf(member));
    });
  }

  _subscribe(kind, name) {
    const channel = this.pusher.subscribe(name);
    channel.bind("pusher:subscription_succeeded", () => {
      this.subscribed[kind] = true;
      this._maybeReady();
    });
    channel.bind("pusher:subscription_error", (error) => {
      this.subscribed[kind] = false;
      this.handlers.onRefused?.(name, error && error.status);
    });
    return channel;
  }

  _maybeReady() {
    if (!this.isReady()) return;
    this.readyCount += 1;
    mark("hub-ready");
    this._pump();
    this.handlers.onReady?.(this.readyCount > 1);
  }

  _onState(state) {
    if (state === "connected") mark("hub-connected"); // the socket is up; subscribing next
    if (state !== "connected") {
      // pusher-js resubscribes after reconnecting; until then nothing can be sent.
      this.subscribed.private = false;
      this.subscribed.presence = false;
    }
    this.handlers.onState?.(state);
  }

  /** Both channels subscribed on a live connection: client events can be sent. */
  isReady() {
    return (
      this.pusher !== null &&
      this.pusher.connection.state === "connected" &&
      this.subscribed.private &&
      this.subscribed.presence
    );
  }

  /**
   * Send a WebRTC signaling event on the private channel; resolves true once sent. An event
   * whose `isStale()` turns true while it waits is dropped.
   */
  signal(event, data, isStale = null) {
    return this._enqueue("private", event, data, isStale);
  }

  /** Send a chat message on the presence channel; resolves true once sent. */
  chat(data) {
    return this._enqueue("presence", "client-chat-message", data);
  }

  _enqueue(kind, event, data, isStale = null) {
    const size = new TextEncoder().encode(JSON.stringify(data)).length;
    if (size > MAX_EVENT_BYTES) {
      console.warn(`room: ${event} is ${size} bytes, over the hub's limit`);
    }
    return new Promise((resolve) => {
      this.queue.push({ kind, event, data, resolve, isStale });
      this._pump();
    });
  }

  _pump() {
    if (this.timer !== null) return;
    while (this.queue.length > 0) {
      if (!this.isReady()) {
        // Offline: drop what is waiting; the hello on rejoin repairs the call, and the
        // chat tells its sender the message did not go out.
        for (const item of this.queue.splice(0)) item.resolve(false);
        return;
      }
      if (this.queue[0].isStale?.()) {
        this.queue.shift().resolve(false);
        continue;
      }
      const now = performance.now();
      while (this.sentAt.length > 0 && now - this.sentAt[0] >= RATE_WINDOW_MS) this.sentAt.shift();
      if (this.sentAt.length >= RATE_MAX) {
        const wait = RATE_WINDOW_MS - (now - this.sentAt[0]) + 5;
        this.timer = setTimeout(() => {
          this.timer = null;
          this._pump();
        }, wait);
        return;
      }
      const item = this.queue.shift();
      const channel = item.kind === "private" ? this.privateChannel : this.presenceChannel;
      const sent = channel.trigger(item.event, item.data);
      if (sent) this.sentAt.push(now);
      item.resolve(Boolean(sent));
    }
  }

  /**
   * Send one signaling event at once, for a page that is going away: pusher-js hands frames
   * to the socket on a later tick, which never comes once the page is unloading.
   */
  signalNow(event, data) {
    const socket = this.pusher?.connection?.connection?.transport?.socket;
    if (!this.isReady() || !socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify({ event, data, channel: this.privateChannel.name }));
    return true;
  }

  /** Leave the hub; resolves after frames already handed to pusher-js went out. */
  async disconnect() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const item of this.queue.splice(0)) item.resolve(false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    this.pusher?.disconnect();
  }
}

function memberOf(member) {
  const info = member.info || {};
  return { id: member.id, name: info.name || member.id, role: info.role || "" };
}

function listMembers(members) {
  const list = [];
  members.each((member) => list.push(memberOf(member)));
  return list;
}
