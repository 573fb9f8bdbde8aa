// Screen sharing: the Share screen button, and the shared screen as the other side's main view.
//
// The screen replaces the camera on the call's existing video sender (Call.useVideo): no
// renegotiation, so it works the same on a direct call, through TURN and through the media
// relay (which forwards one video stream per participant, whatever its picture size), and the
// path badge never changes. The encoder starts the screen with a keyframe at its own size; the
// relay forwards it like any other frame, and a receiver that misses it asks for another (PLI).
//
// The other side learns about the share from the screen flag of client-media-state
// (media_state.js): it shows the screen whole ("contain", never cropped) with a
// "... is presenting" label, and the camera again when the flag clears. Stop sharing, or the
// browser's own "Stop sharing" bar (the track ends), returns to the camera.

// screen_composite.js loads on the first share, not with the room (a join does not need it).
const loadComposite = () => import("./screen_composite.js");

/** Frame rate asked of the capture: text stays sharp; motion matters less than on a camera. */
const SCREEN_FRAME_RATE = 15;

export class ScreenShare {
  /**
   * @param {import("./call.js").Call} call
   * @param {import("./media_state.js").MediaState} mediaState
   * @param {{button: HTMLButtonElement, notice: HTMLElement, error: (message: string) => void}} ui
   */
  constructor(call, mediaState, ui) {
    this.call = call;
    this.mediaState = mediaState;
    this.ui = ui;
    this.track = null; // the captured screen
    this.sent = null; // what goes out: the screen with the camera small (screen_composite.js)
    this.busy = false;
    const supported = Boolean(navigator.mediaDevices?.getDisplayMedia);
    ui.button.hidden = !supported;
    ui.button.addEventListener("click", () => (this.track ? this.stop() : this.start()));
  }

  /** Ask the browser for a screen, window or tab, and send it instead of the camera. */
  async start() {
    if (this.busy || this.track || this.call.ended) return;
    this.busy = true;
    try {
      let stream;
      try {
        stream = await navigator.mediaDevices.getDisplayMedia({
          video: { frameRate: { ideal: SCREEN_FRAME_RATE } },
          audio: false,
        });
      } catch (error) {
        // Cancelled in the browser's picker: nothing to say.
        if (error.name !== "NotAllowedError" && error.name !== "AbortError") {
          this.ui.error(`Your screen could not be shared (${error.name}).`);
        }
        return;
      }
      const track = stream.getVideoTracks()[0];
      if (!track) return;
      // Keep the resolution (text) rather than the frame rate when bandwidth is short.
      track.contentHint = "detail";
      track.addEventListener("ended", () => this.stop());
      this.track = track;
      const camera = this.call.localStream?.getVideoTracks()[0] || null;
      const { composite } = await loadComposite();
      if (this.track !== track) return; // the share ended while the module loaded
      this.sent = composite(track, camera);
      await this.call.useVideo(this.sent ? this.sent.track : track);
      this.mediaState.set({ screen: true });
      this._show(true);
    } finally {
      this.busy = false;
    }
  }

  /** Back to the camera. */
  async stop() {
    const track = this.track;
    if (!track) return;
    this.track = null;
    track.stop();
    await this.call.useVideo(null);
    this.sent?.stop();
    this.sent = null;
    this.mediaState.set({ screen: false });
    this._show(false);
  }

  _show(sharing) {
    const { button, notice } = this.ui;
    button.setAttribute("aria-pressed", String(sharing));
    button.classList.toggle("control--active", sharing);
    button.querySelector(".control__label").textContent = sharing ? "Stop sharing" : "Share screen";
    notice.hidden = !sharing;
  }
}

/**
 * The other side's shared screen: a "... is presenting" label on the stage while it lasts.
 * @param {import("./media_state.js").MediaState} mediaState
 * @param {HTMLElement} label
 */
export function showPeerScreen(mediaState, label) {
  mediaState.addEventListener("peer", ({ detail }) => {
    label.hidden = !detail.screen;
  });
}
