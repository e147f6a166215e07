// /invite#CODE: a person added by the owner chooses their password.

import * as api from "./api.js";
import { h, field, messageArea, busy, announce } from "./ui.js";

export function render({ main, signedIn }) {
  // The code travels in the fragment, which browsers never send to a server or in a Referer.
  const code = decodeURIComponent(location.hash.replace(/^#/, "")).trim();
  const heading = h("h1", {}, "Choose your password");
  const wrap = h("div", { class: "narrow" }, heading);
  main.append(wrap);
  announce(heading, "Choose your password");

  if (!code) {
    wrap.append(
      h(
        "p",
        { class: "message error", role: "alert" },
        "This invite link is incomplete. Open the whole link you were sent, or ask for a new one.",
      ),
      h("p", {}, h("a", { href: "/" }, "Go to the sign-in page")),
    );
    return;
  }

  const password = field("Password", {
    type: "password",
    autocomplete: "new-password",
    minlength: "8",
    required: true,
  }, { hint: "At least 8 characters. You will sign in with your name and this password." });
  const show = h("input", { type: "checkbox", id: "show-password" });
  show.addEventListener("change", () => {
    password.input.type = show.checked ? "text" : "password";
  });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Set password");
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    password.row,
    h("div", { class: "check-row" }, show, h("label", { for: "show-password" }, "Show password")),
    message.el,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    if (password.input.value.length < 8) {
      message.show("The password needs at least 8 characters.");
      password.input.focus();
      return;
    }
    try {
      const me = await busy(submit, "Saving…", () => api.acceptInvite(code, password.input.value));
      signedIn(me, {
        to: "/photos",
        notice: `Welcome, ${me.name}! Your password is set. Next time, sign in with the name “${me.name}” and this password.`,
      });
    } catch (error) {
      message.show(error.message);
    }
  });
  wrap.append(
    h("p", { class: "lead" }, "You were invited to this family’s shoebox. Choose a password to finish."),
    form,
  );
  password.input.focus();
}
