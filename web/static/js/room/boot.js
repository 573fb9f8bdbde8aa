// The first script of the room to run: it starts what a join waits for (the hub connection,
// camera and microphone, the ICE servers) while the rest of the page still loads.
//
// It is an async module (it runs as soon as it and its few imports are fetched, before the page
// has finished parsing) and room.js picks up what it started: `early`. The hub connection's
// events wait in Signaling until room.js attaches its handlers (Signaling.attach), so nothing
// that arrives early is lost. pusher-js is an async script too; the hub connection starts when
// both are there.

import { get } from "../api.js";
import { openLocalMedia } from "./local_media.js";
import { mark } from "./marks.js";
import { Signaling } from "./signaling.js";

function whenPusherLoaded() {
  if (typeof window.Pusher === "function") return Promise.resolve();
  const script = document.getElementById("pusher-js");
  if (!script) return Promise.reject(new Error("pusher-js is not on the page"));
  return new Promise((resolve, reject) => {
    script.addEventListener("load", () => resolve());
    script.addEventListener("error", () => reject(new Error("pusher-js did not load")));
  });
}

mark("boot");
const config = JSON.parse(document.getElementById("room-config").textContent);
const signaling = new Signaling(config);

export const early = {
  config,
  signaling,
  /** Resolves once the hub connection is under way; rejects when it cannot start. */
  connected: whenPusherLoaded().then(() => signaling.connect()),
  media: openLocalMedia(),
  iceServers: get("/api/ice-servers"),
};
early.connected.catch(() => undefined); // room.js reports it
