// Field errors next to their fields, an error summary, and live character counters.

export function fieldError(form, field, message) {
  const box = form.querySelector(`[data-field="${field}"]`);
  const error = form.querySelector(`#${CSS.escape(field)}-error`);
  if (!box || !error) return false;
  error.textContent = message;
  box.classList.add("field--invalid");
  for (const input of box.querySelectorAll("input, textarea, select")) {
    input.setAttribute("aria-invalid", "true");
  }
  return true;
}

/** Remove one field's error (e.g. once the person changes that field). */
export function clearFieldError(form, field) {
  const box = form.querySelector(`[data-field="${field}"]`);
  if (!box || !box.classList.contains("field--invalid")) return;
  box.classList.remove("field--invalid");
  for (const el of box.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const error = form.querySelector(`#${CSS.escape(field)}-error`);
  if (error) error.textContent = "";
  const summary = form.querySelector(".notice--error[role=alert]");
  if (summary && !form.querySelector(".field--invalid")) summary.hidden = true;
}

/** Errors go away from a field as soon as it is edited. */
export function clearErrorsOnEdit(form) {
  const handler = (event) => {
    const box = event.target.closest?.("[data-field]");
    if (box) clearFieldError(form, box.dataset.field);
  };
  form.addEventListener("input", handler);
  form.addEventListener("change", handler);
}

export function clearErrors(form) {
  for (const box of form.querySelectorAll(".field--invalid")) box.classList.remove("field--invalid");
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".field__error")) el.textContent = "";
  const summary = form.querySelector(".notice--error[role=alert]");
  if (summary) {
    summary.hidden = true;
    summary.textContent = "";
  }
}

/** Show several errors ({field: message}); unknown fields go to the summary. Focus the first.
 * `summaryText` replaces the summary's generic "Please fix..." when the problem needs its own words. */
export function showErrors(form, errors, summary, { summaryText = "" } = {}) {
  const unplaced = [];
  let first = null;
  for (const [field, message] of Object.entries(errors)) {
    if (fieldError(form, field, message)) {
      first ??= form.querySelector(`[data-field="${field}"] input:not([type=hidden]), [data-field="${field}"] textarea, [data-field="${field}"] select, [data-field="${field}"] button:not([disabled])`);
    } else {
      unplaced.push(message);
    }
  }
  const count = Object.keys(errors).length;
  if (summary && count) {
    const generic = count === 1 ? "Please fix the problem marked below." : `Please fix the ${count} problems marked below.`;
    summary.textContent = summaryText || (unplaced.length ? unplaced.join(" ") : generic);
    summary.hidden = false;
  }
  if (first) first.focus();
  else if (summary && count) summary.focus();
}

/** Live "n / max" counter for a textarea or input with data-min / data-max. */
export function attachCounter(input) {
  const counter = document.querySelector(`[data-counter-for="${input.id}"]`);
  if (!counter) return;
  const min = Number(input.dataset.min || 0);
  const max = Number(input.dataset.max || input.maxLength);
  const update = () => {
    const length = input.value.trim().length;
    let note = "";
    if (length > 0 && length < min) note = ` · ${min - length} more needed`;
    counter.textContent = `${length} / ${max} characters${note}`;
    counter.classList.toggle("counter--warn", (length > 0 && length < min) || length > max);
  };
  input.addEventListener("input", update);
  update();
}
