// Session details: the Reschedule button of an upcoming session (shown until it starts).
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
  // The page shows the new time and the change in its history after a reload.
  const open = setUpReschedule({ onMoved: () => location.reload() });
  button.hidden = Date.parse(session.scheduledAt) <= Date.now();
  button.addEventListener("click", () => open(session, data.otherName));
}
