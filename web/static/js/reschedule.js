// The reschedule dialog (templates/_reschedule_dialog.html): the free times a session could
// move to, from GET .../slots?session=<id>, grouped by the viewer's days; posting one moves the
// session (POST /api/mentoring/sessions/{id}/reschedule). Used by My Sessions and the details page.
import { api } from "./api.js";
import { h } from "./dom.js";
import { clearErrors, clearFieldError, showErrors } from "./forms.js";
import { freeSlots, groupByDay } from "./slots.js";
import { formatDate, formatLongDay, formatTime, viewerZone } from "./time.js";

const WINDOW_DAYS = 60; // the slots route answers at most 62 days at a time
const TAKEN = "Sorry, that time was just taken. Please pick another time.";

/** Wire the dialog; returns open(session) where session is the API's session JSON. */
export function setUpReschedule({ onMoved }) {
  const dialog = document.getElementById("reschedule-dialog");
  const form = document.getElementById("reschedule-form");
  const summary = document.getElementById("reschedule-summary");
  const daySelect = document.getElementById("reschedule-day");
  const slotsBox = document.getElementById("reschedule-slots");
  const hint = document.getElementById("reschedule-hint");
  const submit = document.getElementById("reschedule-submit");
  const zone = viewerZone();
  const state = { session: null, byDay: new Map(), slot: null };

  document.getElementById("reschedule-zone").textContent = `(your time zone: ${zone})`;
  document.getElementById("reschedule-keep").addEventListener("click", () => dialog.close());

  const label = (key) => {
    const [year, month, day] = key.split("-").map(Number);
    return formatLongDay({ year, month, day });
  };

  function renderDays() {
    const keys = [...state.byDay.keys()].sort();
    const keep = keys.includes(daySelect.value) ? daySelect.value : keys[0];
    daySelect.replaceChildren(...keys.map((key) => {
      const count = state.byDay.get(key).length;
      return h("option", { value: key, selected: key === keep }, `${label(key)} (${count} free)`);
    }));
    daySelect.disabled = keys.length === 0;
    renderSlots();
  }

  function renderSlots() {
    const starts = state.byDay.get(daySelect.value) || [];
    if (!starts.includes(state.slot)) state.slot = null;
    slotsBox.replaceChildren(...starts.map((ms) => {
      const iso = new Date(ms).toISOString();
      return h("button.slot", {
        type: "button",
        "aria-pressed": state.slot === ms ? "true" : "false",
        dataset: { start: iso },
        onclick: () => {
          state.slot = ms;
          clearFieldError(form, "scheduledAt");
          renderSlots();
          slotsBox.querySelector(`[data-start="${iso}"]`)?.focus();
        },
      }, formatTime(new Date(ms), zone));
    }));
    hint.textContent = state.byDay.size === 0
      ? `No free times in the next ${WINDOW_DAYS} days.`
      : `${starts.length} free start time${starts.length === 1 ? "" : "s"} on ${label(daySelect.value)}.`;
    submit.disabled = state.byDay.size === 0;
  }

  daySelect.addEventListener("change", () => {
    state.slot = null;
    clearFieldError(form, "scheduledAt");
    renderSlots();
  });

  async function loadSlots() {
    const session = state.session;
    hint.textContent = "Loading free times…";
    const from = new Date();
    const to = new Date(from.getTime() + WINDOW_DAYS * 86400000);
    const { ok, data } = await freeSlots(session.mentorEmail, { from, to, session: session.sessionId });
    if (session !== state.session) return;
    if (!ok) {
      state.byDay = new Map();
      renderDays();
      showErrors(form, { form: data.error }, summary);
      return;
    }
    // The current start is free for the session itself, but moving there changes nothing.
    const current = Date.parse(session.scheduledAt);
    state.byDay = groupByDay(data.slots.filter((iso) => Date.parse(iso) !== current), zone);
    renderDays();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!state.slot) {
      showErrors(form, { scheduledAt: "Choose a new start time." }, summary);
      return;
    }
    submit.disabled = true;
    const session = state.session;
    const scheduledAt = new Date(state.slot).toISOString().replace(".000Z", "Z");
    const { ok, status, data } = await api(
      "POST", `/api/mentoring/sessions/${encodeURIComponent(session.sessionId)}/reschedule`, { scheduledAt });
    submit.disabled = false;
    if (ok) {
      dialog.close();
      onMoved(data.session ?? data);
      return;
    }
    if (status === 409 && data.field === "scheduledAt") {
      await loadSlots();
      showErrors(form, { scheduledAt: TAKEN }, summary, { summaryText: TAKEN });
      return;
    }
    const field = data.field === "scheduledAt" ? "scheduledAt" : "form";
    showErrors(form, { [field]: data.error }, summary, { summaryText: field === "form" ? data.error : "" });
  });

  return function open(session, otherName) {
    state.session = session;
    state.slot = null;
    state.byDay = new Map();
    clearErrors(form);
    daySelect.replaceChildren();
    slotsBox.replaceChildren();
    const start = new Date(session.scheduledAt);
    document.getElementById("reschedule-what").textContent =
      `“${session.topic}” with ${otherName}, now on ${formatDate(start, zone)} at ${formatTime(start, zone)} (${zone}), ${session.duration} minutes.`;
    dialog.showModal();
    daySelect.focus();
    loadSlots();
  };
}
