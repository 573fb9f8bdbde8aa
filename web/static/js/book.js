// Booking: a month calendar (past days disabled), the mentor's 09:00-17:00 slots shown in
// the viewer's time zone with taken ones disabled, duration, topic, then POST the booking.
import { api, get } from "./api.js";
import { formRules, h } from "./dom.js";
import { attachCounter, clearErrors, clearErrorsOnEdit, clearFieldError, showErrors } from "./forms.js";
import {
  addDays, compareDays, dayKey, formatDate, formatLongDay, formatTime, sameDay, viewerZone,
  zonedParts, zonedTimeToDate,
} from "./time.js";

const rules = formRules();
const SLOT = 30;
const form = document.getElementById("book-form");
const summary = document.getElementById("book-summary");
const mentorEmail = form.dataset.mentorEmail;
const mentorZone = form.dataset.mentorZone || "UTC";
const zone = viewerZone();
const slotsBox = document.getElementById("slots");
const slotsHint = document.getElementById("slots-hint");
const durationSelect = document.getElementById("duration");
const topic = document.getElementById("topic");
const choice = document.getElementById("book-choice");
const mentorName = document.getElementById("mentor-name").textContent.trim();

const today = () => {
  const p = zonedParts(new Date(), zone);
  return { year: p.year, month: p.month, day: p.day };
};
const state = {
  month: { year: today().year, month: today().month },
  focus: today(),
  day: null,
  slot: null, // start instant in ms
  busy: [], // [[startMs, endMs], ...] around the chosen day
};

document.getElementById("slots-zone").textContent = `(your time zone: ${zone})`;
attachCounter(topic);
clearErrorsOnEdit(form);

// --- calendar ---------------------------------------------------------------------------
const weekdayNames = [...Array(7)].map((_, i) =>
  new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + i))));
document.getElementById("cal-weekdays").replaceChildren(
  ...weekdayNames.map((name) => h("th", { scope: "col", abbr: name }, name)));

function renderCalendar({ focus = false } = {}) {
  const { year, month } = state.month;
  const title = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" })
    .format(new Date(Date.UTC(year, month - 1, 1)));
  document.getElementById("cal-title").textContent = title;
  const now = today();
  document.getElementById("cal-prev").disabled = year === now.year && month === now.month;
  const first = new Date(Date.UTC(year, month - 1, 1));
  const lead = (first.getUTCDay() + 6) % 7; // Monday first
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const rows = [];
  let cells = [];
  for (let i = 0; i < lead; i++) cells.push(h("td", { role: "gridcell" }));
  for (let d = 1; d <= daysInMonth; d++) {
    const day = { year, month, day: d };
    const past = compareDays(day, now) < 0;
    const selected = state.day && sameDay(day, state.day);
    const button = h("button.day", {
      type: "button",
      disabled: past,
      tabindex: sameDay(day, state.focus) ? "0" : "-1",
      "aria-label": formatLongDay(day) + (past ? " (past)" : ""),
      "aria-pressed": selected ? "true" : "false",
      "aria-current": sameDay(day, now) ? "date" : false,
      dataset: { day: dayKey(day) },
      onclick: () => selectDay(day),
    }, String(d));
    cells.push(h("td", { role: "gridcell" }, button));
    if (cells.length === 7) {
      rows.push(h("tr", {}, cells));
      cells = [];
    }
  }
  if (cells.length) {
    while (cells.length < 7) cells.push(h("td", { role: "gridcell" }));
    rows.push(h("tr", {}, cells));
  }
  document.getElementById("cal-body").replaceChildren(...rows);
  if (focus) document.querySelector(`button.day[data-day="${dayKey(state.focus)}"]`)?.focus();
}

function moveFocus(days) {
  const target = addDays(state.focus, days);
  if (compareDays(target, today()) < 0) return;
  state.focus = target;
  state.month = { year: target.year, month: target.month };
  renderCalendar({ focus: true });
}

document.getElementById("cal-body").addEventListener("keydown", (event) => {
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
  if (event.key in moves) {
    event.preventDefault();
    moveFocus(moves[event.key]);
  }
});

function shiftMonth(delta) {
  let { year, month } = state.month;
  month += delta;
  if (month < 1) { month = 12; year -= 1; }
  if (month > 12) { month = 1; year += 1; }
  state.month = { year, month };
  const now = today();
  state.focus = year === now.year && month === now.month ? now : { year, month, day: 1 };
  renderCalendar();
}
document.getElementById("cal-prev").addEventListener("click", () => shiftMonth(-1));
document.getElementById("cal-next").addEventListener("click", () => shiftMonth(1));

async function selectDay(day) {
  state.day = day;
  state.focus = day;
  state.slot = null;
  // Re-rendering replaces the buttons: keep keyboard focus on the chosen day.
  renderCalendar({ focus: document.activeElement?.classList.contains("day") });
  renderChoice();
  slotsHint.textContent = "Loading free times…";
  const busy = await loadBusy(day);
  if (state.day !== day) return; // another day was picked meanwhile
  state.busy = busy;
  renderSlots();
}

// --- slots ------------------------------------------------------------------------------
async function loadBusy(day) {
  const from = dayKey(addDays(day, -1));
  const { ok, data } = await get(
    `/api/mentoring/mentors/${encodeURIComponent(mentorEmail)}/availability?from=${from}&days=3`);
  if (!ok) {
    showErrors(form, { scheduledAt: data.error }, summary);
    return [];
  }
  return data.busy.map((b) => [Date.parse(b.start), Date.parse(b.end)]);
}

/** The mentor's bookable starts whose local date, in the viewer's zone, is `day`. */
function slotsFor(day) {
  const starts = new Map();
  for (const offset of [-1, 0, 1]) {
    const md = addDays(day, offset);
    for (let minute = rules.dayStartMinute; minute + SLOT <= rules.dayEndMinute; minute += SLOT) {
      const start = zonedTimeToDate(md.year, md.month, md.day, Math.floor(minute / 60), minute % 60, mentorZone);
      const local = zonedParts(start, zone);
      // Round trip guards against wall times a DST change skips.
      const back = zonedParts(start, mentorZone);
      if (back.hour * 60 + back.minute !== minute) continue;
      if (sameDay(local, day)) starts.set(start.getTime(), minute);
    }
  }
  return [...starts.entries()].sort((a, b) => a[0] - b[0]);
}

function slotProblem(startMs, mentorMinute, duration) {
  const endMs = startMs + duration * 60000;
  if (startMs <= Date.now()) return "past";
  if (mentorMinute + duration > rules.dayEndMinute) return "ends after 17:00 for the mentor";
  if (state.busy.some(([b0, b1]) => startMs < b1 && b0 < endMs)) return "taken";
  return "";
}

function renderSlots() {
  const duration = Number(durationSelect.value);
  const slots = state.day ? slotsFor(state.day) : [];
  if (!state.day) {
    slotsHint.textContent = "Choose a day first.";
    slotsBox.replaceChildren();
    return;
  }
  let free = 0;
  const buttons = slots.map(([startMs, minute]) => {
    const problem = slotProblem(startMs, minute, duration);
    if (!problem) free += 1;
    if (problem && state.slot === startMs) state.slot = null;
    const label = formatTime(new Date(startMs), zone);
    return h("button.slot" + (problem === "taken" ? ".slot--taken" : ""), {
      type: "button",
      disabled: Boolean(problem),
      title: problem ? `Unavailable: ${problem}` : `Start at ${label}`,
      "aria-pressed": state.slot === startMs ? "true" : "false",
      dataset: { start: new Date(startMs).toISOString() },
      onclick: () => {
        state.slot = startMs;
        clearFieldError(form, "scheduledAt");
        renderSlots();
        renderChoice();
        slotsBox.querySelector(`[data-start="${new Date(startMs).toISOString()}"]`)?.focus();
      },
    }, label, problem ? h("span.visually-hidden", {}, ` (${problem})`) : null);
  });
  slotsBox.replaceChildren(...buttons);
  slotsHint.textContent = slots.length === 0
    ? "The mentor has no hours on this day in your time zone."
    : free === 0 ? `No free times on ${formatLongDay(state.day)}. Try another day.`
      : `${free} free start time${free === 1 ? "" : "s"} on ${formatLongDay(state.day)}.`;
  renderChoice();
}

durationSelect.addEventListener("change", renderSlots);

function renderChoice() {
  if (!state.slot) {
    choice.textContent = "";
    return;
  }
  const start = new Date(state.slot);
  const end = new Date(state.slot + Number(durationSelect.value) * 60000);
  const mine = `${formatDate(start, zone)}, ${formatTime(start, zone)}–${formatTime(end, zone)}`;
  let text = `Your choice: ${mine} (${zone})`;
  if (mentorZone !== zone) {
    text += ` · ${formatTime(start, mentorZone)}–${formatTime(end, mentorZone)} for ${mentorName} (${mentorZone})`;
  }
  choice.textContent = text;
}

// --- submit -----------------------------------------------------------------------------
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const errors = {};
  const text = topic.value.trim();
  if (!state.slot) errors.scheduledAt = state.day ? "Choose a start time." : "Choose a day and a start time.";
  if (text.length < rules.topicMin || text.length > rules.topicMax) {
    errors.topic = `Topic must be ${rules.topicMin} to ${rules.topicMax} characters`;
  }
  if (Object.keys(errors).length) {
    showErrors(form, errors, summary);
    return;
  }
  const button = document.getElementById("book-submit");
  button.disabled = true;
  const body = {
    mentorEmail,
    scheduledAt: new Date(state.slot).toISOString().replace(".000Z", "Z"),
    duration: Number(durationSelect.value),
    topic: text,
  };
  const { ok, status, data } = await api("POST", "/api/mentoring/sessions", body);
  if (ok) {
    location.assign("/mentoring/sessions?booked=1");
    return;
  }
  button.disabled = false;
  if (status === 409) {
    // Someone else booked this time a moment ago: show the fresh calendar and say so.
    if (state.day) {
      state.busy = await loadBusy(state.day);
      renderSlots();
    }
    const taken = "Sorry, that time was just taken. Please pick another time.";
    showErrors(form, { scheduledAt: taken }, summary, { summaryText: taken });
    return;
  }
  showErrors(form, { [data.field || "form"]: data.error }, summary);
});

renderCalendar();
selectDay(today());
