// Time-zone arithmetic with Intl only: wall-clock times in any IANA zone <-> UTC instants.

export const viewerZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const partFormatters = new Map();

function partsFormatter(zone) {
  if (!partFormatters.has(zone)) {
    partFormatters.set(zone, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric",
    }));
  }
  return partFormatters.get(zone);
}

/** {year, month (1-12), day, hour, minute} of an instant as seen in a zone. */
export function zonedParts(date, zone) {
  const out = {};
  for (const { type, value } of partsFormatter(zone).formatToParts(date)) {
    if (type !== "literal") out[type] = Number(value);
  }
  return { year: out.year, month: out.month, day: out.day, hour: out.hour % 24, minute: out.minute };
}

function offsetMs(date, zone) {
  const p = zonedParts(date, zone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
  return asUtc - Math.floor(date.getTime() / 60000) * 60000;
}

/** The instant when the wall clock in `zone` shows the given date and time. */
export function zonedTimeToDate(year, month, day, hour, minute, zone) {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  let instant = guess - offsetMs(new Date(guess), zone);
  const second = guess - offsetMs(new Date(instant), zone);
  if (second !== instant) instant = second;
  return new Date(instant);
}

/** Calendar arithmetic on plain {year, month, day} values (no zone involved). */
export function addDays({ year, month, day }, n) {
  const d = new Date(Date.UTC(year, month - 1, day + n));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

export const sameDay = (a, b) => a.year === b.year && a.month === b.month && a.day === b.day;
export const dayKey = ({ year, month, day }) =>
  `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
export const compareDays = (a, b) => dayKey(a).localeCompare(dayKey(b));

export function formatTime(date, zone = viewerZone()) {
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: "2-digit", minute: "2-digit" }).format(date);
}

export function formatDate(date, zone = viewerZone()) {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric",
  }).format(date);
}

export function formatLongDay({ year, month, day }) {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC", weekday: "long", day: "numeric", month: "long", year: "numeric",
  }).format(new Date(Date.UTC(year, month - 1, day)));
}
