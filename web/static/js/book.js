// Booking: a month calendar where only days with free times can be chosen, the mentor's
// durations, and the free start times of the chosen day in the viewer's zone. Every time shown
// comes from GET /api/mentoring/mentors/{email}/slots: the server decides what is free.
import { api } from "./api.js";
import { formRules, h } from "./dom.js";
import { attachCounter, clearErrors, clearErrorsOnEdit, clearFieldError, showErrors } from "./forms.js";
import { freeSlots, groupByDay } from "./slots.js";
import {
  addDays, compareDays, dayKey, formatDate, formatLongDay, formatTime, sameDay, viewerZone,
  zonedParts, zonedTimeToDate,
} from "./time.js";

const rules = formRules();
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
const TAKEN = "Sorry, that time was just taken. Please pick another time.";

const today = () => {
  const p = zonedParts(new Date(), zone);
  return { year: p.year, month: p.month, day: p.day };
};
const state = {
  month: { year: today().year, month: today().month },
  focus: today(),
  day: null,
  slot: null, // chosen start, ms
  byDay: new Map(), // dayKey (viewer's zone) -> [start ms] for the shown month and duration
  loading: null, // the month+duration being fetched
};

document.getElementById("slots-zone").textContent = `(your time zone: ${zone})`;
attachCounter(topic);
clearErrorsOnEdit(form);

// --- calendar ---------------------------------------------------------------------------
const weekdayNames = [...Array(7)].map((_, i) =>
  new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + i))));
document.getElementById("cal-weekdays").replaceChildren(
  ...weekdayNames.map((name) => h("th", { scope: "col", abbr: name }, name)));

function dayState(day) {
  if (compareDays(day, today()) < 0) return "past";
  if (state.loading) return "loading";
  return state.byDay.has(dayKey(day)) ? "free" : "none";
}

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
    const kind = dayState(day);
    const count = state.byDay.get(dayKey(day))?.length || 0;
    const note = { past: " (past)", none: " (no free times)", loading: "", free: ` (${count} free time${count === 1 ? "" : "s"})` }[kind];
    // Unavailable days stay focusable (aria-disabled), so arrow keys can move across them.
    const button = h("button.day" + (kind === "free" ? ".day--free" : ""), {
      type: "button",
      "aria-disabled": kind === "free" ? false : "true",
      tabindex: sameDay(day, state.focus) ? "0" : "-1",
      "aria-label": formatLongDay(day) + note,
      "aria-pressed": state.day && sameDay(day, state.day) ? "true" : "false",
      "aria-current": sameDay(day, now) ? "date" : false,
      dataset: { day: dayKey(day) },
      onclick: () => { if (kind === "free") selectDay(day); },
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
  const body = document.getElementById("cal-body");
  body.replaceChildren(...rows);
  const grid = body.closest("table");
  grid.dataset.month = `${year}-${String(month).padStart(2, "0")}`;
  grid.setAttribute("aria-busy", state.loading ? "true" : "false");
  if (focus) document.querySelector(`button.day[data-day="${dayKey(state.focus)}"]`)?.focus();
}

function moveFocus(days) {
  const target = addDays(state.focus, days);
  if (compareDays(target, today()) < 0) return;
  state.focus = target;
  if (target.year !== state.month.year || target.month !== state.month.month) {
    state.month = { year: target.year, month: target.month };
    loadMonth({ focus: true });
  } else {
    renderCalendar({ focus: true });
  }
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
  loadMonth();
}
document.getElementById("cal-prev").addEventListener("click", () => shiftMonth(-1));
document.getElementById("cal-next").addEventListener("click", () => shiftMonth(1));

// --- slots ------------------------------------------------------------------------------
/** Fetch the free times of the shown month (viewer's days) for the chosen duration. */
async function loadMonth({ focus = false, keepDay = false } = {}) {
  const { year, month } = state.month;
  const duration = Number(durationSelect.value);
  const key = `${year}-${month}-${duration}`;
  state.loading = key;
  renderCalendar({ focus });
  slotsHint.textContent = "Loading free times…";
  const from = zonedTimeToDate(year, month, 1, 0, 0, zone);
  const next = addDays({ year, month, day: 1 }, 40);
  const to = zonedTimeToDate(next.year, next.month, 1, 0, 0, zone);
  const { ok, data } = await freeSlots(mentorEmail, { from, to, duration });
  if (state.loading !== key) return; // another month or duration was asked for meanwhile
  state.loading = null;
  if (!ok) {
    state.byDay = new Map();
    renderCalendar({ focus });
    slotsHint.textContent = "";
    showErrors(form, { [data.field === "duration" ? "duration" : "scheduledAt"]: data.error }, summary);
    return;
  }
  state.byDay = groupByDay(data.slots, zone);
  if (!(keepDay && state.day && state.byDay.has(dayKey(state.day)))) {
    // The chosen day if it is in this month and still free, else the first day with times.
    const inMonth = [...state.byDay.keys()].sort();
    state.day = inMonth.length ? parseKey(inMonth[0]) : null;
    if (state.day && !focus) state.focus = state.day;
  }
  renderCalendar({ focus });
  renderSlots();
}

const parseKey = (key) => {
  const [year, month, day] = key.split("-").map(Number);
  return { year, month, day };
};

function selectDay(day) {
  state.day = day;
  state.focus = day;
  state.slot = null;
  // Re-rendering replaces the buttons: keep keyboard focus on the chosen day.
  renderCalendar({ focus: document.activeElement?.classList.contains("day") });
  renderSlots();
}

function renderSlots() {
  if (!state.day) {
    slotsBox.replaceChildren();
    slotsHint.textContent = "No free times this month. Try the next month.";
    renderChoice();
    return;
  }
  const starts = state.byDay.get(dayKey(state.day)) || [];
  if (!starts.includes(state.slot)) state.slot = null;
  const buttons = starts.map((startMs) => {
    const label = formatTime(new Date(startMs), zone);
    const iso = new Date(startMs).toISOString();
    return h("button.slot", {
      type: "button",
      title: `Start at ${label}`,
      "aria-pressed": state.slot === startMs ? "true" : "false",
      dataset: { start: iso },
      onclick: () => {
        state.slot = startMs;
        clearFieldError(form, "scheduledAt");
        renderSlots();
        slotsBox.querySelector(`[data-start="${iso}"]`)?.focus();
      },
    }, label);
  });
  slotsBox.replaceChildren(...buttons);
  slotsHint.textContent = starts.length
    ? `${starts.length} free start time${starts.length === 1 ? "" : "s"} on ${formatLongDay(state.day)}.`
    : `No free times on ${formatLongDay(state.day)}. Try another day.`;
  renderChoice();
}

durationSelect.addEventListener("change", () => loadMonth({ keepDay: true }));

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
    // Someone else booked this time a moment ago: show the fresh free times and say so.
    await loadMonth({ keepDay: true });
    showErrors(form, { scheduledAt: TAKEN }, summary, { summaryText: TAKEN });
    return;
  }
  showErrors(form, { [data.field || "form"]: data.error }, summary);
});

loadMonth();
