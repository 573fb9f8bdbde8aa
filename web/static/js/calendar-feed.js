// Profile page: create, copy and revoke the private calendar feed address.
import { api } from "./api.js";

const state = document.getElementById("feed-state");
const box = document.getElementById("feed-new");
const field = document.getElementById("feed-url");
const copied = document.getElementById("feed-copied");
const error = document.getElementById("feed-error");
const createButton = document.getElementById("feed-create");
const copyButton = document.getElementById("feed-copy");
const revokeButton = document.getElementById("feed-revoke");

function showError(message) {
  error.textContent = message;
  error.hidden = !message;
}

createButton.addEventListener("click", async () => {
  showError("");
  const { ok, data } = await api("POST", "/api/calendar/token");
  if (!ok) {
    showError(data.error);
    return;
  }
  field.value = data.url;
  box.hidden = false;
  copyButton.hidden = false;
  revokeButton.hidden = false;
  copied.textContent = "";
  state.textContent = "Here is your new feed address. Any older address no longer works.";
  createButton.textContent = "Make a new address";
  field.focus();
  field.select();
});

copyButton.addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(field.value);
    copied.textContent = "Copied.";
  } catch {
    field.select();
    copied.textContent = "Select the address and copy it (Ctrl+C or ⌘C).";
  }
});

revokeButton.addEventListener("click", async () => {
  showError("");
  const { ok, status, data } = await api("DELETE", "/api/calendar/token");
  if (!ok && status !== 404) {
    showError(data.error);
    return;
  }
  field.value = "";
  box.hidden = true;
  copyButton.hidden = true;
  revokeButton.hidden = true;
  state.textContent = "Your feed is revoked: calendars subscribed to it stop updating.";
  createButton.textContent = "Create feed address";
});
