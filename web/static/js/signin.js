// Sign-in: ask for a one-time link; in development the server hands the link back to show.
import { api } from "./api.js";
import { clearErrors, fieldError } from "./forms.js";

const form = document.getElementById("signin-form");
const sent = document.getElementById("signin-sent");
const email = document.getElementById("email");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const address = email.value.trim();
  if (!address || !email.checkValidity()) {
    fieldError(form, "email", "Enter a valid e-mail address.");
    email.focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const body = { email: address };
  // A new profile starts in this device's zone (and so a new mentor's default hours).
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone) body.timeZone = zone;
  if (form.dataset.next) body.next = form.dataset.next;
  const { ok, data } = await api("POST", "/api/auth/email", body);
  button.disabled = false;
  if (!ok) {
    fieldError(form, "email", data.error);
    email.focus();
    return;
  }
  document.getElementById("sent-to").textContent = address;
  const devBox = document.getElementById("dev-link-box");
  if (data.devLink) {
    document.getElementById("dev-link").href = data.devLink;
    devBox.hidden = false;
  } else {
    devBox.hidden = true;
  }
  form.hidden = true;
  sent.hidden = false;
  sent.focus();
});

document.getElementById("signin-again").addEventListener("click", () => {
  sent.hidden = true;
  form.hidden = false;
  email.select();
  email.focus();
});
