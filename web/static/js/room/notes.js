// Collaborative session notes: a <textarea> bound to the shared Yjs text "notes", synced
// with the server over /ws/notes/{sessionId} (y-websocket protocol, pycrdt on the server).
//
// The save indicator is driven by the server: it announces, in its awareness state, a
// fingerprint of the text it has stored ({notes: {saved, savedAt, problem}}). "Saved" shows
// exactly when the text on this page is the stored one; otherwise "Saving...".

import { Y, WebsocketProvider } from "../../vendor/yjs/yjs.bundle.js";

const NOTES_TEXT = "notes";
const NOTES_MAX = 5000;
const LOCAL = Symbol("local textarea edit");

/** "<length>:<FNV-1a 32-bit hex>" over UTF-16 code units; the server computes the same. */
export function fingerprint(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${text.length}:${hash.toString(16).padStart(8, "0")}`;
}

const isHighSurrogate = (code) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code) => code >= 0xdc00 && code <= 0xdfff;

/**
 * The single edit turning `before` into `after`: {index, remove, insert}. The text after the
 * caret is unchanged by typing, so the common suffix is taken first, bounded by the caret.
 */
export function diff(before, after, caret = after.length) {
  const shortest = Math.min(before.length, after.length);
  let suffix = 0;
  const suffixLimit = Math.min(shortest, Math.max(0, after.length - caret));
  while (
    suffix < suffixLimit &&
    before[before.length - 1 - suffix] === after[after.length - 1 - suffix]
  ) {
    suffix += 1;
  }
  let prefix = 0;
  const prefixLimit = shortest - suffix;
  while (prefix < prefixLimit && before[prefix] === after[prefix]) {
    prefix += 1;
  }
  // Never cut a surrogate pair (an emoji, say) in half.
  if (prefix > 0 && isHighSurrogate(before.charCodeAt(prefix - 1))) prefix -= 1;
  if (suffix > 0 && isLowSurrogate(after.charCodeAt(after.length - suffix))) suffix -= 1;
  return {
    index: prefix,
    remove: before.length - suffix - prefix,
    insert: after.slice(prefix, after.length - suffix),
  };
}

/** Where a caret at `position` ends up after a Yjs text delta made by someone else. */
function shiftCaret(position, delta) {
  let index = 0;
  let caret = position;
  for (const op of delta) {
    if (op.retain !== undefined) {
      index += op.retain;
    } else if (op.insert !== undefined) {
      const length = typeof op.insert === "string" ? op.insert.length : 1;
      if (index < caret) caret += length;
      index += length;
    } else if (op.delete !== undefined) {
      if (index < caret) caret -= Math.min(op.delete, caret - index);
    }
  }
  return caret;
}

function serverNotesState(awareness) {
  for (const state of awareness.getStates().values()) {
    if (state && typeof state.notes === "object" && state.notes !== null) return state.notes;
  }
  return null;
}

/**
 * Bind `textarea` to the session's shared notes and keep `statusEl` telling whether they are
 * stored. Returns {doc, provider, destroy()}.
 */
export function mountNotes(textarea, statusEl, sessionId) {
  const doc = new Y.Doc();
  const text = doc.getText(NOTES_TEXT);
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const provider = new WebsocketProvider(
    `${scheme}//${window.location.host}/ws/notes`,
    encodeURIComponent(sessionId),
    doc,
    { disableBc: true },
  );
  let shown = "";
  let synced = false;
  let refused = null;

  if (!textarea.maxLength || textarea.maxLength < 0) textarea.maxLength = NOTES_MAX;
  textarea.readOnly = true;

  function setStatus(message, state) {
    statusEl.textContent = message;
    statusEl.dataset.state = state;
  }

  function refreshStatus() {
    if (refused) {
      setStatus(refused, "refused");
      return;
    }
    if (!synced) {
      setStatus(provider.wsconnected ? "Loading notes..." : "Connecting...", "connecting");
      return;
    }
    const server = serverNotesState(provider.awareness);
    const saved = server !== null && server.saved === fingerprint(text.toString());
    if (saved) {
      setStatus("Saved", "saved");
    } else if (!provider.wsconnected) {
      setStatus("Offline: your changes will be saved when the connection is back", "offline");
    } else if (server && server.problem === "too-long") {
      setStatus(`Not saved: notes are limited to ${NOTES_MAX} characters`, "error");
    } else if (server && server.problem === "store") {
      setStatus("Not saved yet: the server could not store the notes, retrying", "error");
    } else {
      setStatus("Saving...", "saving");
    }
  }

  function onInput() {
    const value = textarea.value;
    if (value === shown) return;
    const edit = diff(shown, value, textarea.selectionEnd);
    shown = value;
    doc.transact(() => {
      if (edit.remove > 0) text.delete(edit.index, edit.remove);
      if (edit.insert) text.insert(edit.index, edit.insert);
    }, LOCAL);
  }

  function onRemote(event, transaction) {
    if (transaction.origin === LOCAL) return;
    const { selectionStart, selectionEnd, selectionDirection } = textarea;
    const focused = document.activeElement === textarea;
    shown = text.toString();
    textarea.value = shown;
    if (focused) {
      textarea.setSelectionRange(
        shiftCaret(selectionStart, event.delta),
        shiftCaret(selectionEnd, event.delta),
        selectionDirection,
      );
    }
  }

  function onSync(isSynced) {
    if (!isSynced) return;
    if (!synced) {
      synced = true;
      shown = text.toString();
      textarea.value = shown;
      textarea.readOnly = false;
    }
    refreshStatus();
  }

  function onClosed(event) {
    refused =
      event.code === 4401
        ? "Sign in again to edit the notes"
        : event.code === 4404
          ? "This session no longer exists"
          : "You cannot edit these notes";
    textarea.readOnly = true;
    refreshStatus();
  }

  function onBeforeUnload(event) {
    if (statusEl.dataset.state === "saving" || statusEl.dataset.state === "offline") {
      event.preventDefault();
    }
  }

  textarea.addEventListener("input", onInput);
  text.observe(onRemote);
  doc.on("update", refreshStatus);
  provider.awareness.on("change", refreshStatus);
  provider.on("sync", onSync);
  provider.on("status", refreshStatus);
  provider.on("closed", onClosed);
  window.addEventListener("beforeunload", onBeforeUnload);
  refreshStatus();

  return {
    doc,
    provider,
    destroy() {
      window.removeEventListener("beforeunload", onBeforeUnload);
      textarea.removeEventListener("input", onInput);
      text.unobserve(onRemote);
      provider.destroy();
      doc.destroy();
    },
  };
}
