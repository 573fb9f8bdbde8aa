// The shared screen with the presenter's camera kept small in a corner, as ONE video track.
//
// The relay forwards one video stream per participant, and a second video m-line would need
// a renegotiation on every path; so the page draws the screen at its own size on a canvas,
// the camera small in the bottom-left corner (only while the camera is on; the viewer's own
// preview sits bottom-right), and sends the
// canvas. The picture the other side decodes keeps the screen's resolution.

const FRAME_RATE = 15;
const CAMERA_SHARE = 0.2; // of the screen's width
const MARGIN = 16;

/**
 * @param {MediaStreamTrack} screen the captured screen
 * @param {MediaStreamTrack | null} camera the camera (drawn only while enabled)
 * @returns {{track: MediaStreamTrack, stop: () => void} | null} null when the browser
 *   cannot capture a canvas (the screen is then sent alone)
 */
export function composite(screen, camera) {
  const canvas = document.createElement("canvas");
  if (typeof canvas.captureStream !== "function") return null;
  const settings = screen.getSettings();
  canvas.width = settings.width || 1280;
  canvas.height = settings.height || 720;
  const context = canvas.getContext("2d");
  const screenVideo = playing(screen);
  const cameraVideo = camera ? playing(camera) : null;
  const track = canvas.captureStream(FRAME_RATE).getVideoTracks()[0];
  track.contentHint = "detail";

  function draw() {
    const width = screenVideo.videoWidth;
    const height = screenVideo.videoHeight;
    if (!width || !height) return;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width; // the screen (or the shared window) changed size
      canvas.height = height;
    }
    context.drawImage(screenVideo, 0, 0, width, height);
    if (!camera || !camera.enabled || camera.readyState !== "live" || !cameraVideo.videoWidth) {
      return;
    }
    const boxWidth = Math.round(width * CAMERA_SHARE);
    const boxHeight = Math.round((boxWidth * cameraVideo.videoHeight) / cameraVideo.videoWidth);
    const x = MARGIN;
    const y = height - boxHeight - MARGIN;
    context.fillStyle = "rgba(255, 255, 255, 0.9)";
    context.fillRect(x - 2, y - 2, boxWidth + 4, boxHeight + 4);
    context.drawImage(cameraVideo, x, y, boxWidth, boxHeight);
  }

  const timer = setInterval(draw, 1000 / FRAME_RATE);
  return {
    track,
    stop() {
      clearInterval(timer);
      track.stop();
      screenVideo.srcObject = null;
      if (cameraVideo) cameraVideo.srcObject = null;
    },
  };
}

function playing(track) {
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  video.play().catch(() => undefined);
  return video;
}
