// The viewer: one photo large in a <dialog>, with Previous/Next (buttons, arrow keys, swipe),
// Close (button, Esc), Download original and the photo's facts.

import * as api from "./api.js";
import { h, fileName, formatBytes, formatTaken } from "./ui.js";
import { openShareDialog } from "./share.js";

/** The `owner=` a photo of another home is asked for with (none for this home's photos). */
function remote(photo) {
  if (current && current.owner && String(current.owner).includes("@")) return current.owner;
  return photo.owner && String(photo.owner).includes("@") ? photo.owner : null;
}

let ui = null;
let current = null; // {photos, index, hasMore, loadMore, onClose}
let showing = 0; // bumps on every photo shown, so a late preview never replaces a newer one

function build() {
  const title = h("h2", { class: "viewer-title", id: "viewer-title" });
  const close = h("button", { type: "button", class: "viewer-close" }, "Close");
  const download = h("a", { class: "button download", download: "" }, "Download original");
  const share = h("button", { type: "button", class: "share" }, "Share");
  const image = h("img", { class: "viewer-image", alt: "" });
  const missing = h("div", { class: "viewer-missing", hidden: true });
  const prev = h("button", { type: "button", class: "nav-prev" }, "Previous");
  const next = h("button", { type: "button", class: "nav-next" }, "Next");
  const counter = h("p", { class: "counter", "aria-live": "polite" });
  const facts = h("dl", { class: "facts" });
  const stage = h("div", { class: "stage" }, image, missing);
  const dialog = h(
    "dialog",
    { class: "viewer", "aria-labelledby": "viewer-title" },
    h("div", { class: "viewer-bar" }, close, title),
    stage,
    h("div", { class: "viewer-nav" }, prev, counter, next),
    h("div", { class: "viewer-actions" }, download, share),
    h("section", { class: "info", "aria-label": "Photo details" }, facts),
  );
  close.addEventListener("click", () => dialog.close());
  share.addEventListener("click", () => {
    if (!current) return;
    const photo = current.photos[current.index];
    openShareDialog({ what: { photos: [photo.id] }, name: fileName(photo.path) });
  });
  prev.addEventListener("click", () => step(-1));
  next.addEventListener("click", () => step(1));
  // On the document, not the dialog: focus may sit on a button that just became disabled.
  document.addEventListener("keydown", (event) => {
    if (!current || !dialog.open || event.defaultPrevented) return;
    // Arrow keys inside the Share dialog (on top of the viewer) choose a person, not a photo.
    if (event.target instanceof Element && event.target.closest(".share-dialog")) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowLeft") {
      event.preventDefault();
      step(-1);
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      step(1);
    }
  });
  dialog.addEventListener("close", () => {
    const was = current;
    current = null;
    image.removeAttribute("src");
    document.documentElement.classList.remove("viewer-open");
    if (was && was.onClose) was.onClose(was.index);
  });
  // Swipe left/right on touch screens.
  let touch = null;
  stage.addEventListener(
    "touchstart",
    (event) => {
      touch = event.touches.length === 1 ? { x: event.touches[0].clientX, y: event.touches[0].clientY } : null;
    },
    { passive: true },
  );
  stage.addEventListener("touchend", (event) => {
    if (!touch || event.changedTouches.length !== 1) return;
    const dx = event.changedTouches[0].clientX - touch.x;
    const dy = event.changedTouches[0].clientY - touch.y;
    touch = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
  });
  document.body.append(dialog);
  return { dialog, title, download, share, image, missing, prev, next, counter, facts };
}

/**
 * Opens the viewer on photos[index]; `loadMore()` fetches the next page when Next reaches the end;
 * `canShare` shows the Share button (one's own photos).
 */
export function openViewer(options) {
  if (!ui) ui = build();
  current = { ...options };
  show();
  if (!ui.dialog.open) {
    ui.dialog.showModal();
    document.documentElement.classList.add("viewer-open");
  }
  ui.next.focus();
}

/** Closes the viewer if it is open (when the page changes view). */
export function closeViewer() {
  if (ui && ui.dialog.open) ui.dialog.close();
}

async function step(delta) {
  if (!current) return;
  const target = current.index + delta;
  if (target < 0) return;
  if (target >= current.photos.length) {
    if (!current.hasMore()) return;
    ui.counter.textContent = "Loading more photos…";
    await current.loadMore();
    if (!current || target >= current.photos.length) {
      if (current) show();
      return;
    }
  }
  current.index = target;
  show();
}

function show() {
  const { photos, index } = current;
  const photo = photos[index];
  const name = fileName(photo.path);
  const token = ++showing;
  ui.title.textContent = name;
  const owner = remote(photo);
  ui.share.hidden = !current.canShare;
  ui.download.href = api.downloadUrl(photo.id, owner);
  ui.download.setAttribute("download", name);
  ui.prev.disabled = index === 0;
  ui.next.disabled = index === photos.length - 1 && !current.hasMore();
  // A button that becomes disabled drops the focus: hand it to the other one.
  if (ui.prev.disabled && document.activeElement === ui.prev) ui.next.focus();
  if (ui.next.disabled && document.activeElement === ui.next) ui.prev.focus();
  ui.counter.textContent = current.hasMore()
    ? `${index + 1} of ${photos.length}+`
    : `${index + 1} of ${photos.length}`;

  // The thumbnail (already in the cache) stands in while the large preview loads.
  ui.missing.hidden = true;
  ui.missing.replaceChildren();
  ui.image.hidden = false;
  ui.image.alt = name;
  ui.image.classList.add("loading");
  ui.image.onerror = null;
  ui.image.src = api.thumbnailUrl(photo.id, owner);
  let thumbFailed = false;
  ui.image.onerror = () => {
    thumbFailed = true;
    if (token === showing) showMissing(name);
  };
  const preview = new Image();
  preview.decoding = "async";
  preview.onload = () => {
    if (token !== showing) return;
    ui.image.onerror = null;
    ui.image.src = preview.src;
    ui.image.classList.remove("loading");
  };
  preview.onerror = () => {
    if (token !== showing) return;
    ui.image.classList.remove("loading");
    if (thumbFailed) showMissing(name);
  };
  preview.src = api.previewUrl(photo.id, owner);

  const dims = `${photo.display_width || photo.width} × ${photo.display_height || photo.height} pixels`;
  const folder = photo.path.includes("/") ? photo.path.slice(0, photo.path.lastIndexOf("/")) : null;
  const date = formatTaken(photo.taken_at);
  const dateNotes = {
    mtime: "from the file; the camera recorded no date",
    modify_date: "when the file was last edited; no capture date was recorded",
  };
  const dateNote = dateNotes[photo.taken_at_source];
  const rows = [
    ["Date", dateNote ? `${date} (${dateNote})` : date],
    ["Size", formatBytes(photo.size)],
    ["Dimensions", dims],
    ["File name", name],
  ];
  if (folder) rows.push([current.owner ? "Album" : "Folder", folder]);
  if (current.owner && photo.owner) rows.push(["Shared by", photo.owner]);
  ui.facts.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

  // Warm the cache for the neighbours.
  for (const n of [index + 1, index - 1]) {
    if (photos[n]) new Image().src = api.previewUrl(photos[n].id, remote(photos[n]));
  }
}

function showMissing(name) {
  ui.image.hidden = true;
  ui.missing.hidden = false;
  ui.missing.replaceChildren(
    h("span", { class: "ph-icon", "aria-hidden": "true" }),
    h("p", { class: "ph-name" }, name),
    h("p", {}, "There is no preview for this kind of file yet. Download the original to open it."),
  );
}
