// Account: who is signed in, and changing one's own password.

import * as api from "./api.js";
import { h, field, messageArea, busy, announce } from "./ui.js";

export function render({ main, me }) {
  const heading = h("h1", {}, "Account");
  const current = field("Current password", { type: "password", autocomplete: "current-password", required: true });
  const next = field("New password", { type: "password", autocomplete: "new-password", minlength: "8", required: true }, {
    hint: "At least 8 characters. Your other devices are signed out when it changes.",
  });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Change password");
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    h("h2", {}, "Change your password"),
    current.row,
    next.row,
    message.el,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    if (!current.input.value) {
      message.show("Type your current password first.");
      current.input.focus();
      return;
    }
    if (next.input.value.length < 8) {
      message.show("The new password needs at least 8 characters.");
      next.input.focus();
      return;
    }
    try {
      await busy(submit, "Changing…", () => api.changePassword(current.input.value, next.input.value));
      current.input.value = "";
      next.input.value = "";
      message.show("Your password is changed. Your other devices are signed out.", "success");
    } catch (error) {
      message.show(
        error.code === "wrong_password" ? "Your current password is not right. Type it again." : error.message,
      );
      if (error.code === "wrong_password") current.input.focus();
    }
  });
  const role = me.role === "owner" ? "Owner of this shoebox" : "Family member";
  main.append(
    h(
      "div",
      { class: "narrow" },
      heading,
      h(
        "dl",
        { class: "card account-facts" },
        h("dt", {}, "Signed in as"),
        h("dd", {}, me.name),
        h("dt", {}, "Role"),
        h("dd", {}, role),
        h("dt", {}, "Library folder"),
        h("dd", {}, me.library || "None yet"),
      ),
      form,
      h("p", { class: "hint" }, "To leave this device, use Sign out at the top of the page."),
    ),
  );
  announce(heading, "Account");
}
