// Connections: arrives with part 2 (pairing with other homes). Says so plainly.

import { h, announce } from "./ui.js";

export function render({ main }) {
  const heading = h("h1", {}, "Connections");
  main.append(
    heading,
    h(
      "div",
      { class: "card later" },
      h("p", { class: "empty-title" }, "Coming in the next version"),
      h(
        "p",
        {},
        "Here you will connect this shoebox with a relative’s shoebox in another home. You read a short code to each other over the phone, and from then on you can share albums with people there.",
      ),
      h("p", {}, "Until then, your photos stay on this box and are seen only by the people of this home."),
    ),
  );
  announce(heading, "Connections");
}
