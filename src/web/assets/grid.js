// The photo grid shared by Photos and an album: months, justified rows whose boxes are known
// before any thumbnail loads, more pages as the person scrolls, and the viewer on activation.

import * as api from "./api.js";
import { h, fileName, monthKey, monthLabel } from "./ui.js";
import { openViewer } from "./viewer.js";

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

/**
 * A grid of the signed-in person's photos (or of one album). Returns {el, start, destroy};
 * `empty` is the element shown when there are no photos at all.
 */
export function photoGrid({ album = null, empty }) {
  const monthsEl = h("div", { class: "months" });
  const status = h("div", { class: "grid-status", role: "status", "aria-live": "polite" });
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const el = h("div", { class: "grid" }, monthsEl, status, sentinel);

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
    loading = (async () => {
      status.replaceChildren(photos.length ? "Loading more photos…" : "Loading your photos…");
      status.className = "grid-status";
      try {
        const page = await api.photos({ cursor, album });
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
        status.className = "grid-status error";
        status.replaceChildren(
          h("span", {}, error.message),
          " ",
          h("button", { type: "button", onclick: () => loadMore() }, "Try again"),
        );
        return false;
      } finally {
        loading = null;
        if (!destroyed && !done) {
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
      const key = monthKey(photo.taken_at);
      let section = sections[sections.length - 1];
      if (!section || section.key !== key) {
        const title = h("h2", { class: "month" }, monthLabel(key));
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
      src: api.thumbnailUrl(photo.id),
    });
    // No thumbnail (a HEIC today, a damaged file): the file name instead of a broken image.
    img.addEventListener("error", () => img.replaceWith(placeholder(name)), { once: true });
    const button = h("button", { type: "button", class: "tile", title: name }, img);
    button.addEventListener("click", () => open(index));
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

  function open(index) {
    openViewer({
      photos,
      index,
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
export function placeholder(name) {
  return h("span", { class: "placeholder" }, h("span", { class: "ph-icon", "aria-hidden": "true" }), h("span", { class: "ph-name" }, name));
}
