// People (owner): add a family member with a library folder, hand them an invite link, see when
// each person last signed in, make a new link (password reset), remove a person.

import * as api from "./api.js";
import { h, field, messageArea, busy, announce, formatInstant } from "./ui.js";

export function render({ main, me }) {
  let gone = false;
  const heading = h("h1", {}, "People");
  const message = messageArea();
  const inviteBox = h("section", { class: "card invite", hidden: true, "aria-live": "polite" });
  const list = h("ul", { class: "people" });
  const listStatus = h("p", { class: "grid-status", role: "status" }, "Loading people…");

  // Add person: a button that opens the form.
  const addButton = h("button", { type: "button", class: "primary", "aria-expanded": "false" }, "Add person");
  const name = field("Name", { autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true }, {
    hint: "The name they sign in with: letters, digits, dots, dashes or underscores.",
  });
  const folder = field("Library folder", { required: true }, {
    element: "select",
    hint: "The folder on the box that holds their photos.",
  });
  const addMessage = messageArea();
  const add = h("button", { type: "submit", class: "primary" }, "Add");
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h(
    "form",
    { class: "card form add-person", hidden: true, novalidate: true },
    h("h2", {}, "Add a person"),
    name.row,
    folder.row,
    addMessage.el,
    h("div", { class: "actions" }, add, cancel),
  );
  addButton.addEventListener("click", () => {
    form.hidden = !form.hidden;
    addButton.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) {
      loadFolders();
      name.input.focus();
    }
  });
  cancel.addEventListener("click", () => {
    form.hidden = true;
    addButton.setAttribute("aria-expanded", "false");
    addButton.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    addMessage.clear();
    const who = name.input.value.trim();
    if (!who) {
      addMessage.show("Type the person’s name first.");
      name.input.focus();
      return;
    }
    if (!folder.input.value) {
      addMessage.show("Choose the folder that holds their photos.");
      folder.input.focus();
      return;
    }
    try {
      const added = await busy(add, "Adding…", () => api.addPerson(who, folder.input.value));
      if (gone) return;
      name.input.value = "";
      form.hidden = true;
      addButton.setAttribute("aria-expanded", "false");
      showInvite(added.name || who, added.invite_url, true);
      loadPeople();
    } catch (error) {
      addMessage.show(error.message);
    }
  });

  let foldersLoaded = false;
  async function loadFolders() {
    if (foldersLoaded) return;
    folder.input.replaceChildren(h("option", { value: "" }, "Loading folders…"));
    try {
      const { folders } = await api.folders();
      if (gone) return;
      foldersLoaded = true;
      folder.input.replaceChildren(
        h("option", { value: "" }, "Choose a folder"),
        ...folders.map((f) => h("option", { value: f.path }, f.path)),
      );
      if (!folders.length) addMessage.show("There are no folders under the photos roots yet. Make one on the box first.", "info");
    } catch (error) {
      folder.input.replaceChildren(h("option", { value: "" }, "No folders"));
      addMessage.show(error.message);
    }
  }

  function showInvite(person, url, isNew) {
    const id = "invite-link";
    const input = h("input", { id, type: "text", readonly: true, value: url, class: "invite-url" });
    input.addEventListener("focus", () => input.select());
    const copied = h("span", { class: "copied", role: "status", "aria-live": "polite" });
    const copy = h("button", { type: "button" }, "Copy link");
    copy.addEventListener("click", async () => {
      input.select();
      let ok = false;
      try {
        await navigator.clipboard.writeText(url);
        ok = true;
      } catch {
        try {
          ok = document.execCommand("copy");
        } catch {
          ok = false;
        }
      }
      copied.textContent = ok ? "Copied" : "Select the link and copy it yourself";
    });
    const done = h("button", { type: "button" }, "Done");
    done.addEventListener("click", () => {
      inviteBox.hidden = true;
      inviteBox.replaceChildren();
      addButton.focus();
    });
    inviteBox.replaceChildren(
      h("h2", {}, isNew ? `${person} is added` : `New invite link for ${person}`),
      h(
        "p",
        {},
        `Send this link to ${person} (by message or e-mail). It works once, for 7 days, and lets them choose a password.`,
        isNew ? "" : " Older links for them no longer work.",
      ),
      h("div", { class: "field" }, h("label", { for: id }, "Invite link"), h("div", { class: "copy-row" }, input, copy)),
      copied,
      h("div", { class: "actions" }, done),
    );
    inviteBox.hidden = false;
    input.focus();
  }

  // Remove: confirmed in a dialog.
  const confirmText = h("p");
  const confirmTitle = h("h2", { id: "confirm-title" });
  const confirmYes = h("button", { type: "button", class: "danger" }, "Yes, remove");
  const confirmNo = h("button", { type: "button" }, "Cancel");
  const confirmMessage = messageArea();
  const confirm = h(
    "dialog",
    { class: "confirm", "aria-labelledby": "confirm-title" },
    confirmTitle,
    confirmText,
    confirmMessage.el,
    h("div", { class: "actions" }, confirmYes, confirmNo),
  );
  let removing = null;
  confirmNo.addEventListener("click", () => confirm.close());
  confirmYes.addEventListener("click", async () => {
    if (!removing) return;
    confirmMessage.clear();
    try {
      await busy(confirmYes, "Removing…", () => api.removePerson(removing.name));
      confirm.close();
      message.show(`${removing.name} is removed and signed out. Their photos stay on the box.`, "info");
      loadPeople();
    } catch (error) {
      confirmMessage.show(error.message);
    }
  });
  confirm.addEventListener("close", () => {
    if (removing && removing.button && removing.button.isConnected) removing.button.focus();
    removing = null;
  });

  function personRow(person) {
    const self = me && person.name === me.name;
    let lastSeen;
    if (person.last_seen_at) lastSeen = `Last signed in ${formatInstant(person.last_seen_at)}`;
    else if (person.has_password) lastSeen = "Has not signed in yet";
    else lastSeen = "Has not chosen a password yet";
    const badges = [];
    if (person.role === "owner") badges.push(h("span", { class: "badge" }, "Owner"));
    if (person.invite_pending) badges.push(h("span", { class: "badge pending" }, "Invite sent"));
    const actions = h("div", { class: "person-actions" });
    const invite = h("button", { type: "button" }, "New invite link");
    invite.addEventListener("click", async () => {
      message.clear();
      try {
        const { invite_url } = await busy(invite, "Making a link…", () => api.newInvite(person.name));
        showInvite(person.name, invite_url, false);
        loadPeople();
      } catch (error) {
        message.show(error.message);
      }
    });
    // The owner changes their own password on the Account page.
    if (!self) actions.append(invite);
    if (!self) {
      const remove = h("button", { type: "button", class: "danger-outline" }, "Remove");
      remove.addEventListener("click", () => {
        removing = { name: person.name, button: remove };
        confirmTitle.textContent = `Remove ${person.name}?`;
        confirmText.textContent = `${person.name} is signed out at once and can no longer sign in. What they shared stops being shared. Their photos stay on the box, in ${person.library || "their folder"}.`;
        confirmMessage.clear();
        confirm.showModal();
        confirmNo.focus();
      });
      actions.append(remove);
    }
    return h(
      "li",
      { class: "person card" },
      h(
        "div",
        { class: "person-main" },
        h("p", { class: "person-name" }, h("span", {}, person.name), self ? h("span", { class: "you" }, " (you)") : null, ...badges),
        h("p", { class: "person-meta" }, person.library ? person.library : "No library folder"),
        h("p", { class: "person-meta" }, lastSeen),
      ),
      actions,
    );
  }

  async function loadPeople() {
    try {
      const { people } = await api.people();
      if (gone) return;
      listStatus.replaceChildren();
      listStatus.hidden = true;
      list.replaceChildren(...people.map(personRow));
    } catch (error) {
      if (gone) return;
      listStatus.hidden = false;
      listStatus.className = "grid-status error";
      listStatus.replaceChildren(h("span", {}, error.message), " ", h("button", { type: "button", onclick: loadPeople }, "Try again"));
    }
  }

  main.append(
    heading,
    h("p", { class: "lead" }, "Everyone here has their own photos and signs in with their own name and password."),
    message.el,
    h("div", { class: "toolbar" }, addButton),
    form,
    inviteBox,
    h("h2", { class: "section-title" }, "Family on this shoebox"),
    listStatus,
    list,
    confirm,
  );
  announce(heading, "People");
  loadPeople();
  return () => {
    gone = true;
    if (confirm.open) confirm.close();
  };
}
