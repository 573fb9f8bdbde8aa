// Camera and microphone for the call: the best the device allows, never an exception.

const ATTEMPTS = [
  { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } },
  { audio: true, video: false },
  { audio: false, video: true },
];

/**
 * Open camera and microphone, or whichever of them works.
 * @returns {Promise<{stream: MediaStream, error: string|null}>} an empty stream and the last
 *   error's name when neither could be opened
 */
export async function openLocalMedia() {
  let lastError = null;
  for (const constraints of ATTEMPTS) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia(constraints), error: null };
    } catch (error) {
      lastError = error;
    }
  }
  return { stream: new MediaStream(), error: lastError?.name || "unknown" };
}
