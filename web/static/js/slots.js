// Free start times from the server (GET /api/mentoring/mentors/{email}/slots), grouped by the
// viewer's calendar days. The booking page and the reschedule dialog show exactly these.
import { get } from "./api.js";
import { dayKey, zonedParts } from "./time.js";

/** Free starts between two instants; `session` asks for the times a session could move to. */
export function freeSlots(mentorEmail, { from, to, duration = null, session = null }) {
  const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  if (duration) query.set("duration", String(duration));
  if (session) query.set("session", session);
  return get(`/api/mentoring/mentors/${encodeURIComponent(mentorEmail)}/slots?${query}`);
}

/** ISO start times -> Map of dayKey (in `zone`) -> ascending start instants in ms. */
export function groupByDay(starts, zone) {
  const byDay = new Map();
  for (const iso of starts) {
    const ms = Date.parse(iso);
    const key = dayKey(zonedParts(new Date(ms), zone));
    if (!byDay.has(key)) byDay.set(key, []);
    byDay.get(key).push(ms);
  }
  for (const list of byDay.values()) list.sort((a, b) => a - b);
  return byDay;
}
