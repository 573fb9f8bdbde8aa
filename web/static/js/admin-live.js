// The console's live page: every 5 seconds, fetch the page again and swap in its live part,
// so the figures move without reloading (no flash, no lost scroll position). Paused while
// the tab is hidden.

const REFRESH_MS = 5000;

async function refresh() {
  const current = document.getElementById("live-content");
  if (!current || document.hidden) return;
  try {
    const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("live-content");
    if (fresh) current.replaceWith(document.adoptNode(fresh));
  } catch {
    // The server is restarting or the network is down: try again on the next beat.
  }
}

setInterval(refresh, REFRESH_MS);
