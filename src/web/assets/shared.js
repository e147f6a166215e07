// Shared with me: arrives with part 2 (sharing between homes). Says so plainly.

import { h, announce } from "./ui.js";

export function render({ main }) {
  const heading = h("h1", {}, "Shared with me");
  main.append(
    heading,
    h(
      "div",
      { class: "card later" },
      h("p", { class: "empty-title" }, "Coming in the next version"),
      h(
        "p",
        {},
        "Albums and photos that family members share with you — from this shoebox or from a relative’s shoebox in another home — will be listed here, to look at and download like your own.",
      ),
      h("p", {}, "Nothing to do yet: this page fills itself once sharing arrives."),
    ),
  );
  announce(heading, "Shared with me");
}
