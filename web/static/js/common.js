// Loaded on every page: sign-out buttons and local times in server-rendered pages.
import { api } from "./api.js";
import { formatDate, formatTime, viewerZone } from "./time.js";

for (const button of document.querySelectorAll("[data-signout]")) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    await api("POST", "/api/auth/signout");
    location.assign("/signin?signedout=1");
  });
}

for (const button of document.querySelectorAll("[data-signout-everywhere]")) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    await api("POST", "/api/auth/signout-everywhere");
    location.assign("/signin?signedout=1");
  });
}

// <time datetime="..." data-local="datetime" data-end="..."> shows the viewer's local date and
// time; data-local="time" only the time of day. Both name the viewer's zone.
for (const el of document.querySelectorAll("time[data-local]")) {
  const start = new Date(el.getAttribute("datetime"));
  if (Number.isNaN(start.getTime())) continue;
  let text = el.dataset.local === "time" ? formatTime(start) : `${formatDate(start)}, ${formatTime(start)}`;
  if (el.dataset.end) text += `–${formatTime(new Date(el.dataset.end))}`;
  el.textContent = `${text} (${viewerZone()})`;
}
