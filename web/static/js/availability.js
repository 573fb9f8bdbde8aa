// Availability editor: weekly hours (several ranges a day, days off), date exceptions and the
// booking rules. Loads with GET and saves with PUT /api/mentoring/availability; the server is
// the authority and its answer is shown next to the field it names.
import { api, get } from "./api.js";
import { h } from "./dom.js";
import { clearErrors, clearErrorsOnEdit, showErrors } from "./forms.js";
import { viewerZone } from "./time.js";

const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const DAY_NAMES = Object.fromEntries(DAYS.map((d) => [d, d[0].toUpperCase() + d.slice(1)]));
const RANGES_MAX = 6;
const NEW_RANGE = () => ({ start: "09:00", end: "17:00" });

const form = document.getElementById("availability-form");
const summary = document.getElementById("availability-summary");
const status = document.getElementById("availability-status");
const weeklyBox = document.getElementById("weekly");
const exceptionsList = document.getElementById("exceptions");
const zoneInput = document.getElementById("timeZone");

/** What the form shows: kept here so adding and removing rows never loses typed values. */
const state = {
  weekly: Object.fromEntries(DAYS.map((d) => [d, { on: false, ranges: [] }])),
  exceptions: [], // {date, off, ranges}
};

clearErrorsOnEdit(form);
const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
document.getElementById("time-zones").replaceChildren(...zones.map((z) => new Option(z)));
const zoneButton = document.getElementById("use-device-zone");
zoneButton.textContent = `Use this device's time zone (${viewerZone()})`;
zoneButton.addEventListener("click", () => {
  zoneInput.value = viewerZone();
  zoneInput.focus();
});

// --- time ranges (shared by weekdays and exceptions) -------------------------------------
function rangeList(ranges, where, onChange) {
  return h("ul.ranges", { role: "list" }, ranges.map((range, index) => {
    const n = index + 1;
    const input = (key, label) => {
      const id = `${where.id}-${index}-${key}`;
      return h("span.range__part", {},
        h("label", { for: id }, label, h("span.visually-hidden", {}, ` (range ${n})`)),
        h("input", {
          // A time input cannot show 24:00: midnight at the end of a range reads as 00:00.
          id, type: "time", step: "900", required: true, value: range[key] === "24:00" ? "00:00" : range[key],
          "data-range": key,
          oninput: (event) => { range[key] = event.target.value; },
        }));
    };
    return h("li.range", {},
      input("start", "From"), input("end", "To"),
      h("button.icon-btn.range__remove", {
        type: "button",
        title: "Remove this range",
        "aria-label": `Remove ${where.label} range ${n}`,
        onclick: () => {
          ranges.splice(index, 1);
          onChange({ focusAdd: true });
        },
      }, "×"));
  }));
}

function addRangeButton(ranges, where, onChange) {
  return h("button.btn.btn--secondary.btn--sm", {
    type: "button",
    disabled: ranges.length >= RANGES_MAX,
    "data-add-range": where.id,
    "aria-label": `Add a range on ${where.label}`,
    onclick: () => {
      const last = ranges[ranges.length - 1];
      // A new range starts an hour after the last one ends; the mentor adjusts both times.
      ranges.push(last && last.end <= "21:00"
        ? { start: addHour(last.end), end: addHour(addHour(last.end)) } : NEW_RANGE());
      onChange({ focusNew: ranges.length - 1 });
    },
  }, "Add a range");
}

function addHour(clock) {
  const [hh, mm] = clock.split(":").map(Number);
  return `${String(hh + 1).padStart(2, "0")}:${String(mm).padStart(2, "0")}`;
}

// --- weekly hours -----------------------------------------------------------------------
function renderDay(day, { focusNew = null, focusAdd = false } = {}) {
  const entry = state.weekly[day];
  const where = { id: `weekly-${day}`, label: DAY_NAMES[day] };
  const rerender = (opts) => renderDay(day, opts);
  const toggleId = `${day}-on`;
  const box = h("fieldset.weekday", {
    id: `weekday-${day}`,
    "data-field": `weekly.${day}`,
    "aria-describedby": `weekly.${day}-error`,
  },
  h("legend", {}, DAY_NAMES[day]),
  h("div.field--check", {},
    h("input", {
      id: toggleId, type: "checkbox", checked: entry.on,
      onchange: (event) => {
        entry.on = event.target.checked;
        if (entry.on && !entry.ranges.length) entry.ranges.push(NEW_RANGE());
        rerender({});
        document.getElementById(toggleId)?.focus();
      },
    }),
    h("label", { for: toggleId }, "Available"),
  ),
  entry.on ? rangeList(entry.ranges, where, rerender) : h("p.muted.small.weekday__off", {}, "Day off"),
  entry.on ? addRangeButton(entry.ranges, where, rerender) : null,
  h("p.field__error", { id: `weekly.${day}-error`, "aria-live": "polite" }));
  const old = document.getElementById(`weekday-${day}`);
  if (old) old.replaceWith(box);
  else weeklyBox.append(box);
  if (entry.on && !entry.ranges.length) {
    entry.on = false;
    renderDay(day);
    document.getElementById(toggleId)?.focus();
    return;
  }
  if (focusNew !== null) document.getElementById(`${where.id}-${focusNew}-start`)?.focus();
  else if (focusAdd) box.querySelector("[data-add-range]")?.focus();
}

// --- date exceptions --------------------------------------------------------------------
function renderExceptions({ focus = null } = {}) {
  const rerender = (opts) => renderExceptions(opts);
  exceptionsList.replaceChildren(...state.exceptions.map((item, index) => {
    const n = index + 1;
    const field = `exceptions[${index}]`;
    const where = { id: `exception-${index}`, label: item.date || `date ${n}` };
    const kindId = `exception-${index}-kind`;
    const dateId = `exception-${index}-date`;
    return h("li.exception", {},
      h("fieldset.exception__box", { "data-field": field, "aria-describedby": `${field}-error` },
        h("legend", {}, `Exception ${n}`),
        h("div.exception__row", {},
          h("div.field", { "data-field": `${field}.date` },
            h("label", { for: dateId }, "Date"),
            h("input", {
              id: dateId, type: "date", required: true, value: item.date, min: todayIso(),
              "aria-describedby": `${field}.date-error`,
              oninput: (event) => { item.date = event.target.value; },
            }),
            h("p.field__error", { id: `${field}.date-error`, "aria-live": "polite" })),
          h("div.field", {},
            h("label", { for: kindId }, "On that date"),
            h("select", {
              id: kindId,
              onchange: (event) => {
                item.off = event.target.value === "off";
                if (!item.off && !item.ranges.length) item.ranges.push(NEW_RANGE());
                rerender({ focus: kindId });
              },
            },
            h("option", { value: "off", selected: item.off }, "Day off"),
            h("option", { value: "hours", selected: !item.off }, "Other hours"))),
          h("button.btn.btn--ghost.btn--sm.exception__remove", {
            type: "button",
            "aria-label": `Remove exception ${n}${item.date ? ` (${item.date})` : ""}`,
            onclick: () => {
              state.exceptions.splice(index, 1);
              rerender({ focus: "add-exception" });
            },
          }, "Remove this date")),
        item.off ? null : h("div", { "data-field": `${field}.ranges` },
          rangeList(item.ranges, where, () => rerender({})),
          addRangeButton(item.ranges, where, (opts) => rerender({ focus: `${where.id}-${opts.focusNew}-start` })),
          h("p.field__error", { id: `${field}.ranges-error`, "aria-live": "polite" })),
        h("p.field__error", { id: `${field}-error`, "aria-live": "polite" })));
  }));
  document.getElementById("exceptions-empty").hidden = state.exceptions.length > 0;
  if (focus) document.getElementById(focus)?.focus();
}

function todayIso() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

document.getElementById("add-exception").addEventListener("click", () => {
  state.exceptions.push({ date: "", off: true, ranges: [] });
  renderExceptions({ focus: `exception-${state.exceptions.length - 1}-date` });
});

// --- load and save ----------------------------------------------------------------------
function show(availability, { firstTime = false } = {}) {
  zoneInput.value = firstTime ? viewerZone() : availability.timeZone;
  for (const day of DAYS) {
    const ranges = (availability.weekly[day] || []).map((r) => ({ ...r }));
    state.weekly[day] = { on: ranges.length > 0, ranges };
    renderDay(day);
  }
  state.exceptions = availability.exceptions.map((e) => ({
    date: e.date, off: e.ranges.length === 0, ranges: e.ranges.map((r) => ({ ...r })),
  }));
  renderExceptions();
  form.elements.namedItem("bufferMinutes").value = availability.bufferMinutes;
  form.elements.namedItem("minNoticeHours").value = String(availability.minNoticeMinutes / 60);
  form.elements.namedItem("horizonDays").value = availability.horizonDays;
  for (const box of form.querySelectorAll("input[name=durations]")) {
    box.checked = availability.durations.includes(Number(box.value));
  }
  document.getElementById("availability-default").hidden = !availability.isDefault;
}

const wholeNumber = (input) => (input.value.trim() === "" ? NaN : Number(input.value));

/** The PUT body, and the problems the browser can see for itself ({field: message}). */
function collect() {
  const errors = {};
  const checkRanges = (ranges, field) => {
    for (const r of ranges) {
      if (!r.start || !r.end) errors[field] ??= "Enter both times of each range (HH:MM)";
      else if (r.end !== "00:00" && r.start >= r.end) errors[field] ??= "A range must start before it ends";
    }
    // 00:00 as an end means midnight, as the server reads 24:00.
    return ranges.map((r) => ({ start: r.start, end: r.end === "00:00" ? "24:00" : r.end }));
  };
  const weekly = {};
  for (const day of DAYS) {
    const entry = state.weekly[day];
    weekly[day] = entry.on ? checkRanges(entry.ranges, `weekly.${day}`) : [];
  }
  const exceptions = state.exceptions.map((item, index) => {
    if (!item.date) errors[`exceptions[${index}].date`] = "Choose a date";
    return { date: item.date, ranges: item.off ? [] : checkRanges(item.ranges, `exceptions[${index}].ranges`) };
  });
  const field = (name) => form.elements.namedItem(name);
  const buffer = wholeNumber(field("bufferMinutes"));
  if (!Number.isInteger(buffer)) errors.bufferMinutes = "Enter a whole number of minutes (0 to 60)";
  const noticeHours = wholeNumber(field("minNoticeHours"));
  if (!Number.isFinite(noticeHours)) errors.minNoticeMinutes = "Enter a number of hours (0 means none)";
  const horizon = wholeNumber(field("horizonDays"));
  if (!Number.isInteger(horizon)) errors.horizonDays = "Enter a whole number of days (1 to 365)";
  const durations = [...form.querySelectorAll("input[name=durations]:checked")].map((b) => Number(b.value));
  if (!durations.length) errors.durations = "Offer at least one session length";
  if (!zoneInput.value.trim()) errors.timeZone = "Choose a time zone";
  const body = {
    timeZone: zoneInput.value.trim(),
    weekly,
    exceptions,
    bufferMinutes: buffer,
    minNoticeMinutes: Math.round(noticeHours * 60),
    horizonDays: horizon,
    durations,
  };
  return { body, errors };
}

/** The server names nested fields (weekly.monday, exceptions[2].date, or just "monday"):
 * place the message on the closest part of the form that has an error line. */
function placeable(field) {
  if (DAYS.includes(field)) return `weekly.${field}`;
  let name = field;
  while (name) {
    if (form.querySelector(`[data-field="${CSS.escape(name)}"]`) && document.getElementById(`${name}-error`)) return name;
    const cut = Math.max(name.lastIndexOf("."), name.lastIndexOf("["));
    name = cut > 0 ? name.slice(0, cut) : "";
  }
  return field;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  status.hidden = true;
  const { body, errors } = collect();
  if (Object.keys(errors).length) {
    showErrors(form, errors, summary);
    return;
  }
  const button = document.getElementById("availability-save");
  button.disabled = true;
  const { ok, data } = await api("PUT", "/api/mentoring/availability", body);
  button.disabled = false;
  if (!ok) {
    showErrors(form, { [placeable(data.field || "form")]: data.error }, summary);
    return;
  }
  show(data.availability);
  status.textContent = "Availability saved. Mentees now see these hours.";
  status.hidden = false;
});

async function load() {
  const { ok, data } = await get("/api/mentoring/availability");
  form.removeAttribute("aria-busy");
  if (!ok) {
    showErrors(form, { form: data.error }, summary);
    return;
  }
  show(data.availability, { firstTime: data.availability.isDefault });
}

load();
