// The session's page before the room opens: its Reschedule button (shown until the start).
import { setUpReschedule } from "./reschedule.js";

const button = document.getElementById("reschedule-open");
if (button) {
  const data = button.dataset;
  const session = {
    sessionId: data.sessionId,
    mentorEmail: data.mentorEmail,
    topic: data.topic,
    scheduledAt: data.scheduledAt,
    duration: Number(data.duration),
  };
  // After a reload the page shows the new time, the countdown to it and the move in its history.
  const open = setUpReschedule({ onMoved: () => location.reload() });
  button.hidden = Date.parse(session.scheduledAt) <= Date.now();
  button.addEventListener("click", () => open(session, data.otherName));
}
