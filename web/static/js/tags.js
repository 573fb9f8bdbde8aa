// Tag input: type a value, press Enter or comma to add it; each tag has a remove button.
import { h } from "./dom.js";

export class TagInput {
  constructor(root, { onChange } = {}) {
    this.root = root;
    this.name = root.dataset.tagInput;
    this.max = Number(root.dataset.max || 10);
    this.list = root.querySelector("ul");
    this.input = root.querySelector("input");
    this.counter = document.getElementById(`${this.name}-count`);
    this.onChange = onChange || (() => {});
    this.tags = [];
    for (const tag of JSON.parse(root.dataset.initial || "[]")) this.add(tag, { quiet: true });
    this.input.addEventListener("keydown", (event) => this.keydown(event));
    // A value typed but not confirmed still counts when the field loses focus.
    this.input.addEventListener("blur", () => this.commit());
    root.addEventListener("click", (event) => {
      if (event.target === root || event.target === this.list) this.input.focus();
    });
    this.render();
  }

  keydown(event) {
    if (event.key === "Enter" || event.key === ",") {
      event.preventDefault();
      this.commit();
    } else if (event.key === "Backspace" && this.input.value === "" && this.tags.length) {
      this.remove(this.tags.length - 1);
    }
  }

  /** Add whatever is typed (comma-separated values too). */
  commit() {
    const parts = this.input.value.split(",").map((p) => p.trim()).filter(Boolean);
    this.input.value = "";
    for (const part of parts) this.add(part);
  }

  add(value, { quiet = false } = {}) {
    const tag = String(value).trim();
    if (!tag) return;
    if (this.tags.some((t) => t.toLowerCase() === tag.toLowerCase())) return;
    this.tags.push(tag);
    this.render();
    if (!quiet) this.onChange(this);
  }

  remove(index) {
    const [gone] = this.tags.splice(index, 1);
    this.render();
    this.input.focus();
    this.onChange(this, gone);
  }

  render() {
    this.list.replaceChildren(...this.tags.map((tag, index) => h("li.tag.tag--removable", {},
      h("span", {}, tag),
      h("button.tag__remove", {
        type: "button",
        "aria-label": `Remove ${tag}`,
        onclick: () => this.remove(index),
      }, "×"),
    )));
    if (this.counter) {
      this.counter.textContent = `${this.tags.length} / ${this.max} tags`;
      this.counter.classList.toggle("counter--warn", this.tags.length > this.max);
    }
  }

  get values() {
    return [...this.tags];
  }
}
