// The room before it opens: a live countdown, then a reload that lets the server open it.
// The remaining time comes from the server (no trust in the device's clock); the server
// decides again on reload.
const box = document.querySelector("[data-room-wait]");
const countdown = document.getElementById("room-countdown");
const status = document.getElementById("room-wait-status");
const deadline = performance.now() + Number(box.dataset.remainingMs || 0);

function format(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const parts = [];
  if (days) parts.push(`${days} d`);
  if (days || hours) parts.push(`${hours} h`);
  if (days || hours || minutes) parts.push(`${minutes} min`);
  if (!days) parts.push(`${seconds} s`);
  return parts.join(" ");
}

function tick() {
  const left = deadline - performance.now();
  countdown.textContent = format(left);
  if (left <= 0) {
    status.textContent = "The room is open. Joining…";
    // A little past the opening so the server's clock agrees.
    setTimeout(() => location.reload(), 1000);
    return;
  }
  setTimeout(tick, Math.min(1000, Math.max(50, left % 1000 || 1000)));
}

tick();
