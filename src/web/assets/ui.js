// Small DOM helpers shared by the views. Text always goes in through textContent or attributes,
// never through innerHTML: file names, EXIF text and names are hostile.

/**
 * h("button", {class: "primary", onclick: f}, "Sign in") builds an element. Strings among the
 * children become text nodes; attributes are set with setAttribute (or as listeners for on*).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "text") {
      el.textContent = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

let nextId = 0;
/** A unique element id. */
export const uid = (prefix) => `${prefix}-${++nextId}`;

/**
 * A labelled field: returns {row, input}. `label` is the exact accessible name; `hint` is extra
 * help tied with aria-describedby (kept out of the label so the name stays exact).
 */
export function field(label, inputAttrs = {}, { hint = null, element = "input" } = {}) {
  const id = uid("f");
  const input = h(element, { id, name: id, ...inputAttrs });
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
    input.setAttribute("aria-describedby", hintEl.id);
  }
  const row = h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
  return { row, input };
}

/** A message area that screen readers announce: show(text, kind) / clear(). */
export function messageArea() {
  const el = h("p", { class: "message", role: "status", "aria-live": "polite", hidden: true });
  return {
    el,
    show(text, kind = "error") {
      el.textContent = text;
      el.className = `message ${kind}`;
      el.hidden = false;
    },
    clear() {
      el.textContent = "";
      el.hidden = true;
    },
  };
}

/** Disables a form's controls while `work` runs; the button says what is happening. */
export async function busy(button, label, work) {
  const original = button.textContent;
  const form = button.form;
  const controls = form ? [...form.elements] : [button];
  controls.forEach((c) => (c.disabled = true));
  button.textContent = label;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    controls.forEach((c) => (c.disabled = false));
    button.textContent = original;
    button.removeAttribute("aria-busy");
  }
}

/** The last component of a library path: what a person calls the file. */
export function fileName(path) {
  const parts = String(path || "").split("/");
  return parts[parts.length - 1] || String(path || "");
}

/** 1 234 567 bytes → "1.2 MB". */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return "";
  if (n < 1000) return `${n} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const WALL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/;

/**
 * The wall-clock time written in an RFC 3339 string, as a Date in UTC (so formatting it in UTC
 * shows the time the camera showed, whatever this browser's time zone).
 */
function wallClock(text) {
  const m = WALL.exec(String(text || ""));
  if (!m) return null;
  const [, y, mo, d, hh = "0", mm = "0", ss = "0"] = m;
  const date = new Date(Date.UTC(+y, +mo - 1, +d, +hh, +mm, +ss));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "2024-03" for grouping, or "" when unknown. */
export function monthKey(taken) {
  const m = WALL.exec(String(taken || ""));
  return m ? `${m[1]}-${m[2]}` : "";
}

/** "March 2024" for a month key. */
export function monthLabel(key) {
  if (!key) return "Date unknown";
  const [y, m] = key.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, 1)),
  );
}

/** "Saturday, 2 March 2024, 14:05" for a capture time. */
export function formatTaken(taken) {
  const date = wallClock(taken);
  if (!date) return "Unknown";
  return new Intl.DateTimeFormat(undefined, {
    dateStyle: "full",
    timeStyle: "short",
    timeZone: "UTC",
  }).format(date);
}

/** "2 March 2024, 14:05" in this browser's time zone, for instants like a last sign-in. */
export function formatInstant(text) {
  const date = new Date(text);
  if (!text || Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** Sets the page title and moves focus to the view's heading (for keyboard and screen readers). */
export function announce(heading, title) {
  document.title = title ? `${title} · shoebox` : "shoebox";
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}
