// The session page's recordings: Delete asks once, then removes the part (file and listing).

import { api } from "./api.js";

for (const button of document.querySelectorAll("[data-delete]")) {
  button.addEventListener("click", async () => {
    if (!window.confirm("Delete this recording for both of you?")) return;
    button.disabled = true;
    const { ok, data } = await api("DELETE", button.dataset.delete);
    if (ok) {
      button.closest("[data-recording]").remove();
      return;
    }
    button.disabled = false;
    document.querySelector("[data-recordings-error]").textContent = data.error;
  });
}
