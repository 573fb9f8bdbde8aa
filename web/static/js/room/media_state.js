// What each side's camera, microphone and screen are doing, told to the other side.
//
// A camera turned off still sends (black) frames and a muted microphone still sends (silent)
// audio: the receiving page cannot tell from the media. So each page announces its state as a
// client-media-state event on the session's private channel: when it changes, when the page
// (re)joins the hub, and when the other page says hello while this side is not in a normal
// call (a page that just loaded knows nothing yet and assumes a normal call). A newer announcement still waiting in the paced queue makes an older one stale.
//
// The other side's state is shown on the stage: the avatar and "Camera off" instead of a black
// frame, a muted-microphone mark beside the name, and a screen shown whole (not cropped).

const EVENT = "client-media-state";

/** What a page that has said nothing yet is assumed to do: a normal call. */
const DEFAULT_STATE = Object.freeze({ camera: true, microphone: true, screen: false });

export class MediaState extends EventTarget {
  /**
   * @param {object} config the room config (email)
   * @param {import("./signaling.js").Signaling} signaling
   */
  constructor(config, signaling) {
    super();
    this.me = config.email;
    this.signaling = signaling;
    this.local = { ...DEFAULT_STATE };
    this.peer = { ...DEFAULT_STATE };
    this.sequence = 0;
    signaling.listen(EVENT, (data) => this._receive(data));
    signaling.listen("client-hello", (data) => {
      // A newcomer assumes a normal call, so only a different state needs telling; it goes
      // after the hello and offer the call queues for the newcomer, which the join waits on.
      if (data && data.from !== this.me && !this.isDefault()) setTimeout(() => this.announce(), 0);
    });
    signaling.listen("client-bye", (data) => {
      if (data && data.from !== this.me) this._setPeer({ ...DEFAULT_STATE });
    });
  }

  /** Change some of this side's state ({camera, microphone, screen}) and tell the other side. */
  set(change) {
    let changed = false;
    for (const key of Object.keys(DEFAULT_STATE)) {
      if (typeof change[key] === "boolean" && this.local[key] !== change[key]) {
        this.local[key] = change[key];
        changed = true;
      }
    }
    if (changed) this.announce();
  }

  isDefault() {
    return Object.keys(DEFAULT_STATE).every((key) => this.local[key] === DEFAULT_STATE[key]);
  }

  /** Send this side's state (a no-op while the hub connection is down: rejoining re-sends). */
  announce() {
    if (!this.signaling.isReady()) return;
    this.sequence += 1;
    const sequence = this.sequence;
    this.signaling.signal(EVENT, { from: this.me, ...this.local }, () => sequence !== this.sequence);
  }

  _receive(data) {
    if (!data || data.from === this.me) return;
    const state = {};
    for (const key of Object.keys(DEFAULT_STATE)) {
      state[key] = typeof data[key] === "boolean" ? data[key] : DEFAULT_STATE[key];
    }
    this._setPeer(state);
  }

  _setPeer(state) {
    this.peer = state;
    this.dispatchEvent(new CustomEvent("peer", { detail: { ...state } }));
  }

  /** The other side's camera is off and it is not sharing a screen: there is nothing to see. */
  peerCameraOff() {
    return !this.peer.camera && !this.peer.screen;
  }
}

/**
 * Show the other side's state on the stage.
 * @param {MediaState} state
 * @param {{stage: HTMLElement, micOff: HTMLElement}} els
 * @param {() => void} refreshOverlay the room's overlay, which reads peerCameraOff()
 */
export function showPeerMediaState(state, els, refreshOverlay) {
  state.addEventListener("peer", ({ detail }) => {
    els.micOff.hidden = detail.microphone;
    els.stage.classList.toggle("stage__remote--camera-off", state.peerCameraOff());
    els.stage.classList.toggle("stage__remote--screen", detail.screen);
    els.stage.dataset.peerCamera = detail.camera ? "on" : "off";
    els.stage.dataset.peerMicrophone = detail.microphone ? "on" : "off";
    els.stage.dataset.peerScreen = detail.screen ? "on" : "off";
    refreshOverlay();
  });
}
