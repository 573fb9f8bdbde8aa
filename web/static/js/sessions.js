// My Sessions: upcoming sessions (Join opens room.join_lead_minutes before the start, the
// same window the server enforces; Reschedule offers the free times to move to; Cancel asks
// for a reason) and past ones (status, notes, cancellation reason, details).
import { api, get } from "./api.js";
import { h } from "./dom.js";
import { attachCounter, clearErrors, clearErrorsOnEdit, fieldError } from "./forms.js";
import { setUpReschedule } from "./reschedule.js";
import { formatDate, formatTime, viewerZone } from "./time.js";

const leadMinutes = Number(document.getElementById("upcoming").dataset.joinLeadMinutes || 10);
const JOIN_EARLY_MS = leadMinutes * 60 * 1000;
const joinRule = `Join opens ${leadMinutes} minute${leadMinutes === 1 ? "" : "s"} before the start`;
const me = document.body.dataset.email;
const zone = viewerZone();
const dialog = document.getElementById("cancel-dialog");
const cancelForm = document.getElementById("cancel-form");
const reason = document.getElementById("cancel-reason");
let sessions = [];
let cancelling = null;
const statusLine = document.getElementById("sessions-status");
const openReschedule = setUpReschedule({
  onMoved: async (moved) => {
    const start = new Date(moved.scheduledAt);
    statusLine.textContent = `Session moved to ${formatDate(start, zone)} at ${formatTime(start, zone)} (${zone}).`;
    statusLine.hidden = false;
    // The booking note is old news now.
    const booked = document.getElementById("booked-notice");
    if (booked) booked.hidden = true;
    await load();
  },
});

attachCounter(reason);
clearErrorsOnEdit(cancelForm);

function other(session) {
  return session.mentorEmail === me
    ? { role: "Mentee", name: session.menteeName || session.menteeEmail, mine: "mentor" }
    : { role: "Mentor", name: session.mentorName || session.mentorEmail, mine: "mentee" };
}

function when(session) {
  const start = new Date(session.scheduledAt);
  const end = new Date(session.endsAt);
  return h("p.session__when", {},
    h("time", { datetime: session.scheduledAt }, formatDate(start, zone)),
    h("span.session__time", {}, `${formatTime(start, zone)}–${formatTime(end, zone)}`),
    h("span.session__zone.muted", {}, `(${zone})`),
    h("span.muted", {}, `${session.duration} min`),
  );
}

function joinOpen(session, now = Date.now()) {
  const start = Date.parse(session.scheduledAt);
  return now >= start - JOIN_EARLY_MS && now < Date.parse(session.endsAt);
}

function upcomingItem(session) {
  const who = other(session);
  const open = joinOpen(session);
  const roomUrl = `/mentoring/session/${encodeURIComponent(session.sessionId)}`;
  const join = open
    ? h("a.btn.btn--sm", { href: roomUrl, "data-join": session.sessionId }, "Join")
    : h("button.btn.btn--sm", {
      type: "button", disabled: true, "data-join": session.sessionId,
      title: joinRule,
    }, "Join");
  return h("li.card.session", { "data-session": session.sessionId },
    h("div.session__main", {},
      when(session),
      h("h3.session__topic", {}, session.topic),
      h("p.session__with", {}, h("span.muted", {}, `${who.role}: `), who.name,
        h("span.badge.badge--role", {}, `You are the ${who.mine}`)),
      open ? null : h("p.muted.small", {}, `${joinRule}.`),
    ),
    h("div.session__actions", {},
      join,
      open ? null : h("a.btn.btn--sm.btn--ghost", {
        href: roomUrl, "aria-label": `Session details: ${session.topic}`,
      }, "Details"),
      Date.parse(session.scheduledAt) > Date.now()
        ? h("button.btn.btn--sm.btn--secondary", {
          type: "button", onclick: () => openReschedule(session, who.name),
          "aria-label": `Reschedule session: ${session.topic}`,
        }, "Reschedule")
        : null,
      h("button.btn.btn--sm.btn--secondary", {
        type: "button", onclick: () => askCancel(session),
        "aria-label": `Cancel session: ${session.topic}`,
      }, "Cancel"),
    ),
  );
}

function pastItem(session) {
  const who = other(session);
  const cancelledBy = session.cancelledBy === me ? "you"
    : session.cancelledBy === session.mentorEmail ? session.mentorName || session.mentorEmail
      : session.menteeName || session.menteeEmail;
  return h("li.card.session.session--past", { "data-session": session.sessionId },
    h("div.session__main", {},
      h("div.session__top", {}, when(session),
        h(`span.badge.badge--${session.status}`, {}, session.status[0].toUpperCase() + session.status.slice(1))),
      h("h3.session__topic", {}, session.topic),
      h("p.session__with", {}, h("span.muted", {}, `${who.role}: `), who.name),
      session.cancelReason
        ? h("p.session__reason", {}, h("strong", {}, `Cancelled by ${cancelledBy}: `), session.cancelReason)
        : null,
      session.notes ? h("div.session__notes", {}, h("strong", {}, "Notes"), h("p.prose", {}, session.notes)) : null,
    ),
    h("div.session__actions", {},
      h("a.btn.btn--sm.btn--secondary", {
        href: `/mentoring/session/${encodeURIComponent(session.sessionId)}`,
      }, "View Session Details", h("span.visually-hidden", {}, `: ${session.topic}`)),
    ),
  );
}

function render() {
  const upcoming = sessions.filter((s) => s.status === "scheduled")
    .sort((a, b) => Date.parse(a.scheduledAt) - Date.parse(b.scheduledAt));
  const past = sessions.filter((s) => s.status !== "scheduled");
  document.getElementById("upcoming-list").replaceChildren(...upcoming.map(upcomingItem));
  document.getElementById("past-list").replaceChildren(...past.map(pastItem));
  document.getElementById("upcoming-empty").hidden = upcoming.length > 0;
  document.getElementById("past-empty").hidden = past.length > 0;
  document.getElementById("upcoming-count").textContent = `(${upcoming.length})`;
  document.getElementById("past-count").textContent = `(${past.length})`;
}

async function load() {
  const { ok, data } = await get("/api/mentoring/sessions?role=all&status=all");
  const error = document.getElementById("sessions-error");
  if (!ok) {
    error.textContent = data.error;
    error.hidden = false;
    return;
  }
  error.hidden = true;
  sessions = data.sessions;
  render();
}

function askCancel(session) {
  cancelling = session;
  clearErrors(cancelForm);
  reason.value = "";
  reason.dispatchEvent(new Event("input"));
  const start = new Date(session.scheduledAt);
  document.getElementById("cancel-what").textContent =
    `“${session.topic}” on ${formatDate(start, zone)} at ${formatTime(start, zone)} (${zone}) with ${other(session).name}.`;
  dialog.showModal();
  reason.focus();
}

cancelForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(cancelForm);
  const text = reason.value.trim();
  if (!text) {
    fieldError(cancelForm, "reason", "Please give a reason; the other person will see it.");
    reason.focus();
    return;
  }
  const button = cancelForm.querySelector("button[type=submit]");
  button.disabled = true;
  const { ok, data } = await api("PATCH", `/api/mentoring/sessions/${encodeURIComponent(cancelling.sessionId)}`,
    { action: "cancel", reason: text });
  button.disabled = false;
  if (!ok) {
    fieldError(cancelForm, "reason", data.error);
    // Moved by the other person meanwhile: show the list as it is now behind the dialog.
    if (data.code === "session_changed") load();
    return;
  }
  dialog.close();
  await load();
});

document.getElementById("cancel-keep").addEventListener("click", () => dialog.close());

// Join buttons open on time without a reload.
setInterval(() => {
  for (const session of sessions) {
    if (session.status !== "scheduled") continue;
    const button = document.querySelector(`[data-join="${CSS.escape(session.sessionId)}"]`);
    const isLink = button?.tagName === "A";
    if (button && isLink !== joinOpen(session)) {
      render();
      return;
    }
  }
}, 30000);

load();
