// The session room: wires the call, the hub connection, presence, chat and shared notes to
// the page. Everything the page knows about the session is in #room-config.

import { Call, PATHS, mark } from "./call.js";
import { Chat } from "./chat.js";
import { MediaState, showPeerMediaState } from "./media_state.js";
import { Presence } from "./presence.js";
import { startQuality } from "./quality.js";
import { Recording } from "./recording.js";
import { ScreenShare, showPeerScreen } from "./screen_share.js";
import { Signaling } from "./signaling.js";

const FIRST_FRAME_MARK = "first-remote-frame";
const NOTES_DELAY_MS = 1500;

const SIGNAL_LABELS = {
  initialized: "Connecting to the room...",
  connecting: "Connecting to the room...",
  connected: "Joining the room...",
  ready: "Connected",
  unavailable: "Reconnecting...",
  disconnected: "Disconnected",
  failed: "Your browser cannot connect to the room",
};

function byId(id) {
  return document.getElementById(id);
}

function start() {
  mark("script-start");
  const config = JSON.parse(byId("room-config").textContent);
  const ui = {
    remoteVideo: byId("remote-video"),
    remoteAudio: byId("remote-audio"),
    overlay: byId("remote-overlay"),
    remoteStatus: byId("remote-status"),
    localVideo: byId("local-video"),
    mic: byId("btn-mic"),
    camera: byId("btn-camera"),
    sound: byId("btn-sound"),
    end: byId("btn-end"),
    error: byId("call-error"),
    path: byId("path-badge"),
    pathName: byId("path-name"),
    signal: byId("signal-status"),
  };
  const peerName = config.peer.name;
  let peerState = "unknown"; // unknown | absent (not joined yet) | present | left
  // True while the relay connection carries no media and a new one is being negotiated.
  let mediaReconnecting = false;

  const signaling = new Signaling(config, {});
  const call = new Call(config, signaling);
  const mediaState = new MediaState(config, signaling); // media_state.js: camera/mic/screen
  const presenceEls = { list: byId("presence-list"), event: byId("presence-event") };
  const presence = new Presence(config, presenceEls, (present, seenBefore) => {
    peerState = present ? "present" : seenBefore ? "left" : "absent";
    call.onPresence(present);
    refreshOverlay();
  });
  const chat = new Chat(config, signaling, {
    log: byId("chat-log"),
    empty: byId("chat-empty"),
    form: byId("chat-form"),
    input: byId("chat-input"),
    error: byId("chat-error"),
  });

  // --- remote media and the overlay over it -----------------------------------------------------
  let remoteVideoTrack = null;
  let playing = false;

  function refreshOverlay() {
    const show =
      peerState === "left" ||
      !playing ||
      remoteVideoTrack === null ||
      remoteVideoTrack.muted ||
      mediaState.peerCameraOff();
    ui.overlay.hidden = !show;
    if (!show) return;
    if (peerState === "left") ui.remoteStatus.textContent = `${peerName} left the room`;
    else if (peerState === "absent") ui.remoteStatus.textContent = `Waiting for ${peerName} to join...`;
    else if (mediaReconnecting) ui.remoteStatus.textContent = "The video is reconnecting...";
    else if (mediaState.peerCameraOff()) ui.remoteStatus.textContent = "Camera off";
    else ui.remoteStatus.textContent = "Connecting...";
  }

  let frameSeen;
  const firstFrameSeen = new Promise((resolve) => {
    frameSeen = resolve;
  });

  function watchFrames() {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    ui.remoteVideo.requestVideoFrameCallback(() => {
      mark(FIRST_FRAME_MARK);
      frameSeen();
      playing = true;
      refreshOverlay();
    });
  }

  call.addEventListener("remote", ({ detail }) => {
    const stream = detail.stream;
    const video = stream.getVideoTracks()[0] || null;
    const audio = stream.getAudioTracks()[0] || null;
    if (video !== remoteVideoTrack) {
      remoteVideoTrack = video;
      playing = false;
      ui.remoteVideo.srcObject = video ? new MediaStream([video]) : null;
      if (video) {
        video.addEventListener("mute", refreshOverlay);
        video.addEventListener("unmute", refreshOverlay);
        watchFrames();
        ui.remoteVideo.play().catch(() => undefined);
      }
    }
    const currentAudio = ui.remoteAudio.srcObject?.getAudioTracks()[0] || null;
    if (audio !== currentAudio) {
      ui.remoteAudio.srcObject = audio ? new MediaStream([audio]) : null;
      if (audio) {
        ui.remoteAudio.play().then(
          () => (ui.sound.hidden = true),
          () => (ui.sound.hidden = false), // autoplay with sound needs a click first
        );
      }
    }
    refreshOverlay();
  });
  ui.remoteVideo.addEventListener("playing", () => {
    playing = ui.remoteVideo.videoWidth > 0;
    refreshOverlay();
  });
  ui.sound.addEventListener("click", () => {
    ui.remoteAudio.play().then(() => (ui.sound.hidden = true), () => undefined);
  });

  call.addEventListener("peer", ({ detail }) => {
    if (detail.present) peerState = "present";
    else if (detail.how === "left the call") peerState = "left";
    refreshOverlay();
  });

  // --- local media and controls -------------------------------------------------------------------
  call.addEventListener("local", ({ detail }) => {
    ui.localVideo.srcObject = detail.stream;
    ui.mic.disabled = !call.hasTrack("audio");
    ui.camera.disabled = !call.hasTrack("video");
    mediaState.set({ camera: call.hasTrack("video"), microphone: call.hasTrack("audio") });
  });

  function setToggle(button, off, onLabel, offLabel) {
    button.setAttribute("aria-pressed", String(off));
    button.classList.toggle("control--off", off);
    button.querySelector(".control__label").textContent = off ? offLabel : onLabel;
  }

  ui.mic.addEventListener("click", () => {
    const off = ui.mic.getAttribute("aria-pressed") !== "true";
    call.setMicrophone(!off);
    setToggle(ui.mic, off, "Mute", "Unmute");
    mediaState.set({ microphone: !off });
  });
  ui.camera.addEventListener("click", () => {
    const off = ui.camera.getAttribute("aria-pressed") !== "true";
    call.setCamera(!off);
    setToggle(ui.camera, off, "Camera off", "Camera on");
    ui.localVideo.parentElement.classList.toggle("stage__local--off", off);
    mediaState.set({ camera: !off });
  });

  let leaving = false;
  ui.end.addEventListener("click", async () => {
    leaving = true;
    ui.end.disabled = true;
    ui.localVideo.srcObject = null;
    ui.remoteVideo.srcObject = null;
    ui.remoteAudio.srcObject = null;
    await call.end();
    await signaling.disconnect();
    window.location.assign(config.sessionsUrl);
  });
  window.addEventListener("pagehide", () => {
    if (!leaving) call.leaveNow();
  });

  // --- status: path, hub connection, errors ----------------------------------------------------------
  call.addEventListener("path", ({ detail }) => {
    ui.path.dataset.path = detail.path;
    ui.pathName.textContent = detail.label;
  });
  call.addEventListener("relay", () => {
    ui.path.dataset.path = "relay-connecting";
    ui.pathName.textContent = "moving to relay...";
  });
  // The room may be connected while the video is not: never say "Connected" over no media.
  call.addEventListener("media", ({ detail }) => {
    mediaReconnecting = detail.state === "reconnecting";
    ui.signal.dataset.media = detail.state;
    showSignal(signalState);
    refreshOverlay();
  });
  call.addEventListener("error", ({ detail }) => {
    ui.error.textContent = detail.message;
    ui.error.hidden = false;
  });

  let signalState = "initialized";
  function showSignal(state) {
    signalState = state;
    ui.signal.dataset.state = state;
    ui.signal.textContent =
      state === "ready" && mediaReconnecting
        ? "Reconnecting the video..."
        : SIGNAL_LABELS[state] || state;
  }

  Object.assign(signaling.handlers, {
    onSignal: (event, data) => call.onSignal(event, data),
    onChat: (data) => chat.receive(data),
    onReady: (rejoin) => {
      showSignal("ready");
      call.onSignalingReady(rejoin);
      // A page that just loaded is in a normal call, which is what the other side assumes.
      if (rejoin || !mediaState.isDefault()) mediaState.announce();
    },
    onState: (state) => {
      if (state !== "connected" || signalState !== "ready") showSignal(state);
    },
    onMembers: (members) => presence.setMembers(members),
    onMemberAdded: (member) => presence.added(member),
    onMemberRemoved: (member) => presence.removed(member),
    onRefused: (channel, status) => {
      if (status === 503) {
        // The hub lost its message bus; it completes the subscription once the bus is back.
        showSignal("unavailable");
        return;
      }
      showSignal("failed");
      ui.signal.textContent = status === 403 ? "Access denied" : `Could not join the room (${status || "error"})`;
    },
  });

  showPeerMediaState(
    mediaState,
    { stage: ui.remoteVideo.parentElement, micOff: byId("peer-mic-off") },
    refreshOverlay,
  );
  // screen_share.js: the Share screen button, and the other side's shared screen.
  const screenShare = new ScreenShare(call, mediaState, {
    button: byId("btn-share"),
    notice: byId("share-notice"),
    error: (message) => {
      ui.error.textContent = message;
      ui.error.hidden = false;
    },
  });
  showPeerScreen(mediaState, byId("peer-presenting"));
  // recording.js: the Record button, the other side's prompt and the REC badge.
  const recording = new Recording(config, signaling, call, {
    button: byId("btn-record"),
    badge: byId("rec-badge"),
    prompt: byId("record-prompt"),
    promptText: byId("record-prompt-text"),
    accept: byId("record-accept"),
    decline: byId("record-decline"),
    notice: byId("record-notice"),
  });
  recording.load();
  refreshOverlay();
  // The hub connection is the longest chain to the first frame: start it first.
  try {
    signaling.connect();
  } catch (error) {
    showSignal("failed");
    ui.error.textContent = `The room could not start: ${error.message}`;
    ui.error.hidden = false;
  }
  call.prepare();
  chat.loadHistory();
  // The notes (and their 100 KB editor bundle) wait until the call is set up or a moment
  // has passed, so they do not compete with joining the call.
  let notesStarted = false;
  const startNotes = () => {
    if (notesStarted) return;
    notesStarted = true;
    import("./notes.js")
      .then(({ mountNotes }) => mountNotes(byId("notes"), byId("notes-status"), config.sessionId))
      .catch((error) => {
        byId("notes-status").textContent = "The notes could not be loaded";
        console.error("room: notes failed", error);
      });
  };
  firstFrameSeen.then(startNotes);
  setTimeout(startNotes, NOTES_DELAY_MS);

  // Call-quality reports and the poor-connection notice (quality.js).
  const quality = startQuality(config, call, ui.error);

  window.panamiaRoom = {
    config, call, signaling, chat, presence, quality, mediaState, screenShare, recording, paths: PATHS,
  };
}

start();
