// Photos: the signed-in person's own photos, newest first, grouped by month.

import { h, announce } from "./ui.js";
import { photoGrid } from "./grid.js";

export function render({ main, me, navigate }) {
  const heading = h("h1", {}, "Photos");
  const empty = h(
    "div",
    { class: "empty" },
    h("p", { class: "empty-title" }, "No photos yet"),
    me && me.library
      ? h("p", {}, "Photos you put in your library folder appear here after the next scan. Your folder on the box is ", h("code", {}, me.library), ".")
      : h("p", {}, "You have no library folder yet. Ask the owner of this shoebox to choose one for you."),
    h("button", { type: "button", onclick: () => navigate("/photos", { replace: true }) }, "Look again"),
  );
  const grid = photoGrid({ empty, selectable: true });
  main.append(heading, grid.el);
  announce(heading, "Photos");
  grid.start();
  return () => grid.destroy();
}
