// Milestones of joining, as performance marks named "room:<name>" (bench.join and the
// call-quality report read them). Each is set once per page: the first time counts.

export function mark(name) {
  if (performance.getEntriesByName(`room:${name}`).length === 0) performance.mark(`room:${name}`);
}
