// Albums: the folders of the person's library, each with a cover and a count; one album opens
// in the same grid as Photos (/albums?album=PATH).

import * as api from "./api.js";
import { h, announce } from "./ui.js";
import { photoGrid } from "./grid.js";
import { openShareDialog } from "./share.js";

export function render(ctx) {
  const album = ctx.params.get("album");
  return album ? renderAlbum(ctx, album) : renderList(ctx);
}

function albumName(path) {
  const parts = path.split("/");
  return parts[parts.length - 1] || path;
}

function renderAlbum({ main }, path) {
  const name = albumName(path);
  const heading = h("h1", {}, name);
  const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : null;
  const empty = h(
    "div",
    { class: "empty" },
    h("p", { class: "empty-title" }, "This album is empty"),
    h("p", {}, "The folder may have been moved or emptied since the last scan."),
  );
  const grid = photoGrid({ album: path, empty, selectable: true });
  const share = h("button", { type: "button", class: "primary share-album" }, "Share");
  share.addEventListener("click", () => openShareDialog({ what: { album: path }, name: `the album “${name}”` }));
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "/albums", class: "back" }, "All albums"), parent ? h("span", { class: "crumb-path" }, ` · in ${parent}`) : null),
    h("div", { class: "title-row" }, heading, share),
    grid.el,
  );
  announce(heading, name);
  grid.start();
  return () => grid.destroy();
}

function renderList({ main }) {
  let gone = false;
  const heading = h("h1", {}, "Albums");
  const status = h("p", { class: "grid-status", role: "status", "aria-live": "polite" }, "Loading albums…");
  const list = h("ul", { class: "albums" });
  main.append(
    h("div", { class: "title-row" }, heading, h("a", { href: "/shared/by-me", class: "button quiet" }, "Shared by me")),
    status,
    list,
  );
  announce(heading, "Albums");

  async function load() {
    status.className = "grid-status";
    status.replaceChildren("Loading albums…");
    try {
      const { albums } = await api.albums();
      if (gone) return;
      status.replaceChildren();
      if (!albums.length) {
        status.replaceChildren(
          h(
            "div",
            { class: "empty" },
            h("p", { class: "empty-title" }, "No albums yet"),
            h("p", {}, "Every folder of photos in your library becomes an album here."),
          ),
        );
        return;
      }
      list.replaceChildren(...albums.map(card));
    } catch (error) {
      if (gone) return;
      status.className = "grid-status error";
      status.replaceChildren(h("span", {}, error.message), " ", h("button", { type: "button", onclick: load }, "Try again"));
    }
  }
  load();
  return () => {
    gone = true;
  };
}

function card(album) {
  const name = album.name || albumName(album.path);
  const parent = album.path.includes("/") ? album.path.slice(0, album.path.lastIndexOf("/")) : null;
  const cover = h("span", { class: "cover" });
  if (album.cover) {
    const img = h("img", { alt: "", loading: "lazy", decoding: "async", src: api.thumbnailUrl(album.cover) });
    img.addEventListener("error", () => img.remove(), { once: true });
    cover.append(img);
  }
  const count = album.count === 1 ? "1 photo" : `${album.count} photos`;
  return h(
    "li",
    {},
    h(
      "a",
      { class: "album", href: `/albums?album=${encodeURIComponent(album.path)}` },
      cover,
      h("span", { class: "album-name" }, name),
      h("span", { class: "album-meta" }, parent ? `${count} · in ${parent}` : count),
    ),
  );
}
