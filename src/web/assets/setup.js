// First run: no owner yet. The person who set up the box types the one-time setup code and
// creates the owner account.

import * as api from "./api.js";
import { h, field, messageArea, busy, announce } from "./ui.js";

export function render({ main, instance, signedIn }) {
  const heading = h("h1", {}, "Welcome to shoebox");
  const code = field("Setup code", {
    autocomplete: "one-time-code",
    autocapitalize: "characters",
    spellcheck: "false",
    required: true,
  }, { hint: "Printed by shoebox when it first started. On the box, “shoebox setup-code” shows it again." });
  const name = field("Name", {
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
  }, { hint: "The name you will sign in with, for example “anna”." });
  const password = field("Password", {
    type: "password",
    autocomplete: "new-password",
    minlength: "8",
    required: true,
  }, { hint: "At least 8 characters." });
  const library = field("Library folder", {
    autocapitalize: "none",
    spellcheck: "false",
    placeholder: "/srv/photos/anna",
  }, { hint: "Optional: the folder on the box that holds your own photos. You can leave it empty." });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Create owner account");

  const form = h(
    "form",
    { class: "card form", novalidate: true },
    code.row,
    name.row,
    password.row,
    library.row,
    message.el,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    if (!code.input.value.trim()) return fail(code.input, "Type the setup code first.");
    if (!name.input.value.trim()) return fail(name.input, "Choose a name to sign in with.");
    if (password.input.value.length < 8) return fail(password.input, "The password needs at least 8 characters.");
    try {
      const me = await busy(submit, "Creating your account…", () =>
        api.setup(code.input.value.trim(), name.input.value.trim(), password.input.value, library.input.value.trim()),
      );
      signedIn(me, { to: "/photos" });
    } catch (error) {
      if (error.code === "owner_exists") {
        message.show(error.message);
        setTimeout(() => location.reload(), 2500);
        return;
      }
      message.show(error.message);
      if (error.code === "wrong_setup_code") code.input.focus();
    }
  });

  function fail(input, text) {
    message.show(text);
    input.focus();
  }

  main.append(
    h(
      "div",
      { class: "narrow" },
      heading,
      h("p", { class: "lead" }, "Create the owner account. The owner adds the rest of the family afterwards."),
      fingerprint(instance),
      form,
    ),
  );
  announce(heading, "Welcome");
}

/** The certificate fingerprint, to compare with what `shoebox status` prints on the box. */
export function fingerprint(instance) {
  if (!instance || !instance.certificate_fingerprint) return null;
  return h(
    "section",
    { class: "card check", "aria-labelledby": "fp-title" },
    h("h2", { id: "fp-title" }, "Is this your box?"),
    h(
      "p",
      {},
      "Run “shoebox status” on the box and check that it shows the same certificate fingerprint:",
    ),
    h("p", { class: "fingerprint", "aria-label": "Certificate fingerprint" }, instance.certificate_fingerprint),
  );
}
