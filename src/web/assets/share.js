// The Share dialog (an album, a photo, or a selection of photos → a person of this home or a
// connected person of another home) and the "Shared by me" page with Stop sharing.

import * as api from "./api.js";
import { h, field, messageArea, busy, announce, formatInstant, uid } from "./ui.js";

let ui = null;
let pending = null; // {what, onShared}

function build() {
  const titleId = uid("share");
  const title = h("h2", { id: titleId });
  const person = field("Person", {}, { element: "select", hint: "People of this home, and people of other homes you are connected with." });
  const message = messageArea();
  const shareButton = h("button", { type: "submit", class: "primary" }, "Share");
  const cancel = h("button", { type: "button" }, "Cancel");
  const nobody = h(
    "div",
    { class: "nobody", hidden: true },
    h("p", {}, "There is nobody to share with yet."),
    h("p", {}, "To share with family in another home, connect with them first on the ", h("a", { href: "/connections" }, "Connections"), " page. People of this home are added by its owner."),
  );
  const form = h("form", { class: "form", method: "dialog", novalidate: true }, person.row, nobody, message.el, h("div", { class: "actions" }, shareButton, cancel));
  const dialog = h("dialog", { class: "confirm share-dialog", "aria-labelledby": titleId }, title, form);
  cancel.addEventListener("click", () => dialog.close());
  nobody.addEventListener("click", (event) => {
    if (event.target.closest("a")) dialog.close();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!pending) return;
    if (shareButton.dataset.done) {
      dialog.close();
      return;
    }
    message.clear();
    const who = person.input.value;
    if (!who) {
      message.show("Choose the person to share with first.");
      person.input.focus();
      return;
    }
    const label = person.input.selectedOptions[0] ? person.input.selectedOptions[0].textContent : who;
    try {
      await busy(shareButton, "Sharing…", () => api.share(who, pending.what));
      const onShared = pending.onShared;
      message.show(`Shared with ${label}. They see it under “Shared with me”. You can stop sharing at any time under “Shared by me”.`, "info");
      shareButton.textContent = "Done";
      shareButton.dataset.done = "1";
      cancel.hidden = true;
      person.input.disabled = true;
      shareButton.focus();
      if (onShared) onShared();
    } catch (error) {
      message.show(error.message);
    }
  });
  dialog.addEventListener("close", () => {
    const was = pending;
    pending = null;
    if (was && was.returnFocus && was.returnFocus.isConnected) was.returnFocus.focus();
  });
  document.body.append(dialog);
  return { dialog, title, person, message, shareButton, cancel, nobody };
}

/**
 * Opens the Share dialog for `what` (`{album: PATH}` or `{photos: [ID…]}`); `name` is what the
 * title calls it ("summer", "3 photos").
 */
export async function openShareDialog({ what, name, onShared = null }) {
  if (!ui) ui = build();
  pending = { what, onShared, returnFocus: document.activeElement };
  ui.title.textContent = `Share ${name}`;
  ui.message.clear();
  ui.shareButton.textContent = "Share";
  delete ui.shareButton.dataset.done;
  ui.shareButton.disabled = true;
  ui.cancel.hidden = false;
  ui.nobody.hidden = true;
  ui.person.input.disabled = false;
  ui.person.input.closest(".field").hidden = false;
  ui.person.input.replaceChildren(h("option", { value: "" }, "Loading people…"));
  if (!ui.dialog.open) ui.dialog.showModal();
  const mine = pending;
  try {
    const { people } = await api.shareTargets();
    if (pending !== mine) return;
    if (!people.length) {
      ui.person.input.closest(".field").hidden = true;
      ui.nobody.hidden = false;
      ui.cancel.focus();
      return;
    }
    ui.person.input.replaceChildren(
      h("option", { value: "" }, "Choose a person"),
      ...people.map((p) => h("option", { value: p.person }, p.label || p.person)),
    );
    if (people.length === 1) ui.person.input.value = people[0].person;
    ui.shareButton.disabled = false;
    ui.person.input.focus();
  } catch (error) {
    if (pending !== mine) return;
    ui.person.input.replaceChildren(h("option", { value: "" }, "Nobody"));
    ui.message.show(error.message);
  }
}

/** Closes the Share dialog if it is open (when the page changes view). */
export function closeShareDialog() {
  if (ui && ui.dialog.open) ui.dialog.close();
}

/** The "Shared by me" page: every share of the signed-in person, each with Stop sharing. */
export function renderSharedByMe({ main }) {
  let gone = false;
  const heading = h("h1", {}, "Shared by me");
  const message = messageArea();
  const status = h("p", { class: "grid-status", role: "status" }, "Loading…");
  const list = h("ul", { class: "shares" });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "/albums", class: "back" }, "Albums")),
    heading,
    h("p", { class: "lead" }, "What you share, and with whom. Stopping takes effect at once: they no longer see it."),
    message.el,
    status,
    list,
  );
  announce(heading, "Shared by me");

  function row(share) {
    const stop = h("button", { type: "button", class: "danger-outline" }, "Stop sharing");
    stop.addEventListener("click", async () => {
      message.clear();
      try {
        await busy(stop, "Stopping…", () => api.stopSharing(share.id));
        if (gone) return;
        message.show(`${share.with_label || share.with} no longer sees ${share.name}.`, "info");
        load();
      } catch (error) {
        if (gone) return;
        message.show(error.message);
        load();
      }
    });
    const kind = share.kind === "folder" ? "Album" : "Photo";
    return h(
      "li",
      { class: "card share" },
      h(
        "div",
        { class: "person-main" },
        h("p", { class: "person-name" }, h("span", { class: "badge" }, kind), " ", h("span", { class: "share-name" }, share.name || share.target)),
        h("p", { class: "person-meta" }, `With ${share.with_label || share.with}`),
        share.created_at ? h("p", { class: "person-meta" }, `Since ${formatInstant(share.created_at)}`) : null,
      ),
      h("div", { class: "person-actions" }, stop),
    );
  }

  async function load() {
    try {
      const { shares } = await api.myShares();
      if (gone) return;
      status.hidden = !!shares.length;
      status.className = "grid-status";
      status.replaceChildren(
        h(
          "div",
          { class: "empty" },
          h("p", { class: "empty-title" }, "You share nothing yet"),
          h("p", {}, "Open an album or a photo and press Share to show it to someone."),
        ),
      );
      list.replaceChildren(...shares.map(row));
    } catch (error) {
      if (gone) return;
      status.hidden = false;
      status.className = "grid-status error";
      status.replaceChildren(h("span", {}, error.message), " ", h("button", { type: "button", onclick: load }, "Try again"));
    }
  }
  load();
  return () => {
    gone = true;
  };
}
