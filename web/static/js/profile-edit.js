// Profile form: live counters, tag inputs, the API's rules checked as you save, and the
// server's own verdict shown next to the field it names.
import { api } from "./api.js";
import { formRules } from "./dom.js";
import { attachCounter, clearErrors, clearErrorsOnEdit, showErrors } from "./forms.js";
import { TagInput } from "./tags.js";
import { viewerZone } from "./time.js";

const rules = formRules();
const form = document.getElementById("profile-form");
const summary = document.getElementById("form-summary");
const field = (name) => form.elements.namedItem(name);
const tagInputs = {};
for (const root of form.querySelectorAll("[data-tag-input]")) {
  tagInputs[root.dataset.tagInput] = new TagInput(root);
}
for (const id of ["bio", "goals"]) attachCounter(document.getElementById(id));
clearErrorsOnEdit(form);

// Time zone suggestions from the browser's own list.
const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
document.getElementById("time-zones").replaceChildren(...zones.map((z) => new Option(z)));
const zoneButton = document.getElementById("use-browser-zone");
zoneButton.textContent = `Use this device's time zone (${viewerZone()})`;
// A profile still in the zone it was created with (UTC, never saved): offer the device's
// zone instead, so saving the form does not pin a mentor's hours to UTC by accident.
if (field("timeZone").hasAttribute("data-untouched-default") && viewerZone()) {
  field("timeZone").value = viewerZone();
}
zoneButton.addEventListener("click", () => {
  field("timeZone").value = viewerZone();
  field("timeZone").focus();
});

// Mark bio, expertise and languages as required only while mentoring is enabled.
const syncRequired = () => {
  for (const el of form.querySelectorAll("[data-required-when-enabled]")) {
    el.hidden = !field("enabled").checked;
  }
};
field("enabled").addEventListener("change", syncRequired);
syncRequired();

function isHttpUrl(text) {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && Boolean(url.hostname) && !/\s/.test(text);
  } catch {
    return false;
  }
}

/** The same rules the API applies (store/validation.py); returns {field: message}. */
function validate(values) {
  const errors = {};
  if (!values.name || values.name.length > rules.nameMax) {
    errors.name = `Name must be 1 to ${rules.nameMax} characters`;
  }
  if (!values.timeZone) errors.timeZone = "Choose a time zone";
  const bio = values.bio;
  if ((values.enabled || bio) && (bio.length < rules.bioMin || bio.length > rules.bioMax)) {
    errors.bio = `Bio must be ${rules.bioMin} to ${rules.bioMax} characters`;
  }
  const checkTags = (name, label, min, max) => {
    const tags = values[name];
    if (tags.some((t) => t.length > rules.tagMax)) {
      errors[name] = `${label} entries must be at most ${rules.tagMax} characters`;
    } else if (values.enabled && tags.length < min) {
      errors[name] = `Add at least ${min} ${label.toLowerCase()} entry`;
    } else if (tags.length > max) {
      errors[name] = `At most ${max} ${label.toLowerCase()} entries`;
    }
  };
  checkTags("expertise", "Expertise", rules.expertiseMin, rules.expertiseMax);
  checkTags("languages", "Language", rules.languagesMin, rules.languagesMax);
  if (values.videoIntroUrl && !isHttpUrl(values.videoIntroUrl)) {
    errors.videoIntroUrl = "Enter a valid http(s) URL";
  }
  if (values.goals.length > rules.goalsMax) {
    errors.goals = `Goals must be at most ${rules.goalsMax} characters`;
  }
  const rate = values.hourlyRate;
  if (rate === null || !Number.isFinite(rate)) {
    errors.hourlyRate = "Enter a number (0 means free)";
  } else if (rate < 0) {
    errors.hourlyRate = "Hourly rate must be 0 (free) or more";
  } else if (rate > rules.hourlyRateMax) {
    errors.hourlyRate = `Hourly rate must be at most ${rules.hourlyRateMax.toLocaleString("en-US")}`;
  }
  return errors;
}

function readForm() {
  for (const input of Object.values(tagInputs)) input.commit();
  const rateText = field("hourlyRate").value.trim();
  return {
    name: field("name").value.trim(),
    timeZone: field("timeZone").value.trim(),
    enabled: field("enabled").checked,
    bio: field("bio").value.trim(),
    expertise: tagInputs.expertise.values,
    languages: tagInputs.languages.values,
    videoIntroUrl: field("videoIntroUrl").value.trim(),
    goals: field("goals").value.trim(),
    hourlyRate: rateText === "" ? null : Number(rateText),
  };
}

function payload(values) {
  const body = {
    name: values.name,
    timeZone: values.timeZone,
    enabled: values.enabled,
    videoIntroUrl: values.videoIntroUrl || null,
    goals: values.goals || null,
    hourlyRate: values.hourlyRate,
  };
  // Sent when mentoring is on (the API requires them then) or when filled in.
  if (values.enabled || values.bio) body.bio = values.bio;
  if (values.enabled || values.expertise.length) body.expertise = values.expertise;
  if (values.enabled || values.languages.length) body.languages = values.languages;
  return body;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const values = readForm();
  const errors = validate(values);
  if (Object.keys(errors).length) {
    showErrors(form, errors, summary);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = "Saving…";
  const { ok, data } = await api("PATCH", "/api/mentoring/profile", payload(values));
  button.disabled = false;
  button.textContent = "Save profile";
  if (ok) {
    location.assign("/mentoring/profile?saved=1");
    return;
  }
  showErrors(form, { [data.field || "form"]: data.error }, summary);
});
