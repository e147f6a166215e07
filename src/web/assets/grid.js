// The photo grid shared by Photos and an album: months, justified rows whose boxes are known
// before any thumbnail loads, more pages as the person scrolls, and the viewer on activation.

import * as api from "./api.js";
import { h, fileName, monthKey, monthLabel } from "./ui.js";
import { openViewer } from "./viewer.js";
import { openShareDialog } from "./share.js";

const GAP = 4;

/** Target row height for a grid `width` px wide: small thumbnails on phones, larger on desktops. */
function targetHeight(width) {
  if (width < 520) return 112;
  if (width < 900) return 160;
  return 200;
}

/** Width / height of the box a photo occupies once upright (clamped so panoramas stay usable). */
function aspect(photo) {
  const w = photo.display_width || photo.width || 1;
  const hgt = photo.display_height || photo.height || 1;
  return Math.min(3, Math.max(1 / 3, w / hgt));
}

/**
 * Flickr-style justified layout: photos fill rows of the container's width; every full row is
 * scaled to fit exactly; the last row keeps the target height. Returns [{items, height}].
 */
export function justify(items, width, target, gap = GAP) {
  const rows = [];
  let row = [];
  let sum = 0;
  for (const item of items) {
    const a = aspect(item);
    row.push(item);
    sum += a;
    if (sum * target + gap * (row.length - 1) >= width) {
      rows.push({ items: row, height: (width - gap * (row.length - 1)) / sum });
      row = [];
      sum = 0;
    }
  }
  if (row.length) {
    rows.push({ items: row, height: Math.min(target, (width - gap * (row.length - 1)) / sum) });
  }
  return rows;
}

/** "2023/summer" of "2023/summer/beach.jpg"; "" for a photo shared alone (its file name only). */
function folderKey(photo) {
  const path = String(photo.path || "");
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
}

/**
 * A grid of the signed-in person's photos (or of one album, or of what `owner` shares with them,
 * grouped by album). Returns {el, start, destroy}; `empty` is the element shown when there are no
 * photos at all; `selectable` adds a Select mode to share several photos together;
 * `describeError(error)` may turn a failed page into something more helpful than its message.
 */
export function photoGrid({ album = null, owner = null, empty, selectable = false, describeError = null }) {
  const byFolder = !!owner;
  const monthsEl = h("div", { class: "months" });
  const status = h("div", { class: "grid-status", role: "status", "aria-live": "polite" });
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const tools = selectable ? selectTools() : null;
  const el = h("div", { class: "grid" }, tools ? tools.el : null, monthsEl, status, sentinel);
  const selected = new Set();
  let selecting = false;

  const photos = [];
  const sections = [];
  const tiles = new Map();
  let cursor = null;
  let done = false;
  let loading = null;
  let destroyed = false;
  let lastWidth = 0;

  const io = new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting)) loadMore();
    },
    { rootMargin: "1200px 0px" },
  );
  let resizeFrame = 0;
  const ro = new ResizeObserver(() => {
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(() => {
      const width = monthsEl.clientWidth;
      if (width && width !== lastWidth) sections.forEach(layout);
    });
  });

  function loadMore() {
    if (loading) return loading;
    if (done || destroyed) return Promise.resolve(false);
    let failed = false;
    loading = (async () => {
      const home = owner && owner.includes("@") ? owner.slice(owner.indexOf("@") + 1) : null;
      status.replaceChildren(
        photos.length ? "Loading more photos…" : home ? `Asking ${home}…` : owner ? "Loading…" : "Loading your photos…",
      );
      status.className = "grid-status";
      try {
        const page = await api.photos({ cursor, album, owner });
        if (destroyed) return false;
        add(page.photos || []);
        cursor = page.next_cursor || null;
        done = !cursor;
        status.replaceChildren();
        if (done && photos.length === 0) {
          status.replaceChildren(empty);
        } else if (done) {
          status.replaceChildren(photos.length === 1 ? "1 photo" : `${photos.length} photos`);
          status.className = "grid-status end";
        }
        return (page.photos || []).length > 0;
      } catch (error) {
        if (destroyed) return false;
        failed = true;
        status.className = "grid-status error";
        status.replaceChildren(
          (describeError && describeError(error)) || h("span", {}, error.message),
          " ",
          h("button", { type: "button", onclick: () => loadMore() }, "Try again"),
        );
        return false;
      } finally {
        loading = null;
        // After a failure, only "Try again" asks again (never a loop of retries).
        if (!destroyed && !done && !failed) {
          // Observing again reports the sentinel at once if it is still within reach.
          io.unobserve(sentinel);
          io.observe(sentinel);
        }
      }
    })();
    return loading;
  }

  function add(page) {
    const touched = new Set();
    for (const photo of page) {
      const key = byFolder ? folderKey(photo) : monthKey(photo.taken_at);
      let section = byFolder ? sections.find((s) => s.key === key) : sections[sections.length - 1];
      if (!section || section.key !== key) {
        const label = byFolder ? key || "Photos shared one by one" : monthLabel(key);
        const title = h("h2", { class: byFolder ? "month album-title" : "month" }, label);
        const rows = h("div", { class: "rows" });
        section = { key, photos: [], rows, el: h("section", { class: "month-section" }, title, rows) };
        sections.push(section);
        monthsEl.append(section.el);
      }
      const index = photos.length;
      photos.push(photo);
      section.photos.push(photo);
      tiles.set(photo.id, tile(photo, index));
      touched.add(section);
    }
    touched.forEach(layout);
  }

  function tile(photo, index) {
    const name = fileName(photo.path);
    const img = h("img", {
      alt: name,
      loading: "lazy",
      decoding: "async",
      src: api.thumbnailUrl(photo.id, remoteOwner(photo, owner)),
    });
    // No thumbnail (a HEIC today, a damaged file): the file name instead of a broken image.
    img.addEventListener("error", () => img.replaceWith(placeholder(name)), { once: true });
    const button = h("button", { type: "button", class: "tile", title: name }, img);
    button.addEventListener("click", () => {
      if (selecting) toggle(photo, button);
      else open(index);
    });
    return button;
  }

  function layout(section) {
    const width = monthsEl.clientWidth;
    if (!width) return;
    lastWidth = width;
    const rows = justify(section.photos, width, targetHeight(width));
    section.rows.replaceChildren(
      ...rows.map((row) =>
        h(
          "div",
          { class: "row" },
          row.items.map((photo) => {
            const t = tiles.get(photo.id);
            t.style.width = `${aspect(photo) * row.height}px`;
            t.style.height = `${row.height}px`;
            return t;
          }),
        ),
      ),
    );
  }

  function toggle(photo, button) {
    if (selected.has(photo.id)) selected.delete(photo.id);
    else selected.add(photo.id);
    button.setAttribute("aria-pressed", String(selected.has(photo.id)));
    tools.update();
  }

  function setSelecting(on) {
    selecting = on;
    selected.clear();
    el.classList.toggle("selecting", on);
    for (const t of tiles.values()) {
      if (on) t.setAttribute("aria-pressed", "false");
      else t.removeAttribute("aria-pressed");
    }
    tools.update();
  }

  /** The Select button, and while selecting: how many, Share and Cancel. */
  function selectTools() {
    const start = h("button", { type: "button", class: "select-start" }, "Select");
    const count = h("span", { class: "select-count", role: "status", "aria-live": "polite" });
    const share = h("button", { type: "button", class: "primary" }, "Share");
    const cancel = h("button", { type: "button" }, "Cancel");
    const bar = h("div", { class: "select-bar", hidden: true }, count, share, cancel);
    start.addEventListener("click", () => setSelecting(true));
    cancel.addEventListener("click", () => {
      setSelecting(false);
      start.focus();
    });
    share.addEventListener("click", () => {
      const ids = photos.filter((p) => selected.has(p.id)).map((p) => p.id);
      if (!ids.length) return;
      openShareDialog({
        what: { photos: ids },
        name: ids.length === 1 ? fileName(photos.find((p) => p.id === ids[0]).path) : `${ids.length} photos`,
        onShared: () => setSelecting(false),
      });
    });
    return {
      el: h("div", { class: "grid-tools" }, start, bar),
      update() {
        start.hidden = selecting;
        bar.hidden = !selecting;
        const n = selected.size;
        count.textContent = n === 0 ? "Tap photos to choose them" : n === 1 ? "1 photo chosen" : `${n} photos chosen`;
        share.disabled = n === 0;
      },
    };
  }

  function open(index) {
    openViewer({
      photos,
      index,
      owner,
      canShare: !owner,
      hasMore: () => !done,
      loadMore,
      onClose: (i) => {
        const t = photos[i] && tiles.get(photos[i].id);
        if (t) t.focus();
      },
    });
  }

  return {
    el,
    start() {
      ro.observe(monthsEl);
      loadMore();
    },
    destroy() {
      destroyed = true;
      io.disconnect();
      ro.disconnect();
      cancelAnimationFrame(resizeFrame);
    },
  };
}

/** What stands in for a photo without a picture: its file name. */
/**
 * The `owner=` a photo of another home is asked for with (none for this home's photos): the
 * person whose shares are listed, else the photo's own `owner`.
 */
export function remoteOwner(photo, listed = null) {
  if (listed && String(listed).includes("@")) return listed;
  return photo.owner && String(photo.owner).includes("@") ? photo.owner : null;
}

export function placeholder(name) {
  return h("span", { class: "placeholder" }, h("span", { class: "ph-icon", "aria-hidden": "true" }), h("span", { class: "ph-name" }, name));
}
