// Discover: filter enabled mentors by expertise, language and price; each card books.
import { get } from "./api.js";
import { avatar, h, rateLabel } from "./dom.js";

const form = document.getElementById("discover-form");
const list = document.getElementById("mentor-list");
const status = document.getElementById("discover-status");
const pager = document.getElementById("discover-pager");
const LIMIT = 12;
let page = 1;
let timer = 0;
let latest = 0;

function filters() {
  const params = new URLSearchParams();
  const expertise = form.elements.namedItem("expertise").value.trim();
  const language = form.elements.namedItem("language").value.trim();
  if (expertise) params.set("expertise", expertise);
  if (language) params.set("language", language);
  if (form.elements.namedItem("freeOnly").checked) params.set("freeOnly", "true");
  return params;
}

function card(mentor, index) {
  const m = mentor.mentoring;
  const name = mentor.name || mentor.email;
  const bookUrl = `/mentoring/book/${encodeURIComponent(mentor.email)}`;
  const profileUrl = `/mentoring/mentors/${encodeURIComponent(mentor.email)}`;
  const titleId = `mentor-${page}-${index}`;
  return h("li.card.mentor-card", { "aria-labelledby": titleId },
    h("div.mentor-card__head", {},
      avatar(name, mentor.avatarUrl, "lg"),
      h("div", {},
        h("h2.mentor-card__name", { id: titleId }, h("a.mentor-card__link", { href: profileUrl }, name)),
        h("p.rate" + (Number(m.hourlyRate) === 0 ? ".rate--free" : ""), {}, rateLabel(m.hourlyRate)),
      ),
    ),
    h("p.mentor-card__bio", {}, m.bio),
    h("ul.tags", { role: "list", "aria-label": `Expertise of ${name}` }, m.expertise.map((t) => h("li.tag", {}, t))),
    h("p.mentor-card__langs.small", {}, h("span.muted", {}, "Speaks "), m.languages.join(", ")),
    h("div.mentor-card__actions", {},
      h("a.btn.btn--secondary", { href: profileUrl }, "About", h("span.visually-hidden", {}, ` ${name}`)),
      h("a.btn", { href: bookUrl }, "Book Session", h("span.visually-hidden", {}, ` with ${name}`)),
    ),
  );
}

async function load({ push = false } = {}) {
  const params = filters();
  const shown = params.toString();
  if (push) history.replaceState(null, "", shown ? `?${shown}` : location.pathname);
  params.set("page", String(page));
  params.set("limit", String(LIMIT));
  const request = ++latest;
  list.setAttribute("aria-busy", "true");
  const { ok, data } = await get(`/api/mentoring/discover?${params}`);
  if (request !== latest) return; // a newer search is on its way
  list.removeAttribute("aria-busy");
  if (!ok) {
    status.textContent = data.error;
    list.replaceChildren();
    pager.hidden = true;
    return;
  }
  list.replaceChildren(...data.mentors.map(card));
  const total = data.total;
  status.textContent = total === 0
    ? "No mentors match these filters. Try fewer or broader filters."
    : `${total} mentor${total === 1 ? "" : "s"} found`;
  const pages = Math.max(1, Math.ceil(total / LIMIT));
  pager.hidden = pages <= 1;
  document.getElementById("page-label").textContent = `Page ${page} of ${pages}`;
  document.getElementById("page-prev").disabled = page <= 1;
  document.getElementById("page-next").disabled = page >= pages;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  page = 1;
  load({ push: true });
});
form.addEventListener("input", () => {
  clearTimeout(timer);
  page = 1;
  timer = setTimeout(() => load({ push: true }), 300);
});
form.addEventListener("reset", () => {
  setTimeout(() => {
    page = 1;
    load({ push: true });
  });
});
document.getElementById("page-prev").addEventListener("click", () => {
  page -= 1;
  load();
});
document.getElementById("page-next").addEventListener("click", () => {
  page += 1;
  load();
});
load();
