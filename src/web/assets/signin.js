// Sign in with name and password.

import * as api from "./api.js";
import { h, field, messageArea, busy, announce } from "./ui.js";

let notice = null;

/** A message shown the next time the sign-in page is drawn (e.g. "You were signed out"). */
export function setNotice(text) {
  notice = text || null;
}

export function render({ main, signedIn }) {
  const heading = h("h1", {}, "Sign in");
  const name = field("Name", {
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
  });
  const password = field("Password", { type: "password", autocomplete: "current-password", required: true });
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  let timer = null;

  const form = h(
    "form",
    { class: "card form", novalidate: true },
    name.row,
    password.row,
    message.el,
    h("div", { class: "actions" }, submit),
  );
  if (notice) {
    message.show(notice, "info");
    notice = null;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    if (!name.input.value.trim()) {
      message.show("Type your name first.");
      name.input.focus();
      return;
    }
    if (!password.input.value) {
      message.show("Type your password first.");
      password.input.focus();
      return;
    }
    try {
      const me = await busy(submit, "Signing in…", () => api.signIn(name.input.value.trim(), password.input.value));
      signedIn(me);
    } catch (error) {
      message.show(error.message);
      if (error.code === "wrong_password") {
        password.input.select();
        password.input.focus();
      }
      if (error.status === 429 && error.retryAfter) holdOff(error.retryAfter);
    }
  });

  // While throttled, the button waits and says for how long.
  function holdOff(seconds) {
    clearInterval(timer);
    let left = seconds;
    submit.disabled = true;
    const tick = () => {
      if (left <= 0) {
        clearInterval(timer);
        submit.disabled = false;
        submit.textContent = "Sign in";
        return;
      }
      submit.textContent = `Wait ${api.waitText(left)}`;
      left -= 1;
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  main.append(
    h(
      "div",
      { class: "narrow" },
      heading,
      h("p", { class: "lead" }, "Sign in to see your family photos."),
      form,
      h(
        "p",
        { class: "hint" },
        "Forgot your password? Ask the owner of this shoebox for a new invite link. Owners run “shoebox user invite NAME” on the box.",
      ),
    ),
  );
  announce(heading, "Sign in");
  name.input.focus();
  return () => clearInterval(timer);
}
