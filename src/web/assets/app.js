// The page's entry point: finds out who is here (first run, signed out, signed in), draws the
// header and routes between views with the History API.

import * as api from "./api.js";
import { h, announce } from "./ui.js";
import * as setupView from "./setup.js";
import * as signinView from "./signin.js";
import * as inviteView from "./invite.js";
import * as timelineView from "./timeline.js";
import * as albumsView from "./albums.js";
import * as peopleView from "./people.js";
import * as accountView from "./account.js";
import * as sharedView from "./shared.js";
import * as connectionsView from "./connections.js";
import { closeViewer } from "./viewer.js";
import { closeShareDialog } from "./share.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");

const state = { instance: null, me: null, cleanup: null };

const ROUTES = [
  { path: "/photos", view: timelineView, nav: "Photos" },
  { path: "/albums", view: albumsView, nav: "Albums" },
  { path: "/shared", view: sharedView, nav: "Shared with me" },
  { path: "/connections", view: connectionsView, nav: "Connections" },
  { path: "/people", view: peopleView, nav: "People", owner: true },
  { path: "/account", view: accountView },
];

/** Goes to `url` (a same-origin path) and draws it. */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  if (!replace) hideBanner();
  render();
  if (!replace) window.scrollTo(0, 0);
}

function clearView() {
  closeShareDialog();
  closeViewer();
  if (state.cleanup) {
    try {
      state.cleanup();
    } catch {
      /* a view's cleanup must not stop the next one */
    }
  }
  state.cleanup = null;
  main.replaceChildren();
}

function context() {
  return {
    main,
    me: state.me,
    instance: state.instance,
    params: new URLSearchParams(location.search),
    navigate,
    signedIn,
    signedOut,
  };
}

function mount(view) {
  clearView();
  const cleanup = view.render(context());
  if (typeof cleanup === "function") state.cleanup = cleanup;
}

/** Draws the view for the current URL. */
function render() {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  if (path === "/invite") {
    drawHeader(null);
    mount(inviteView);
    return;
  }
  if (!state.instance) return;
  if (!state.instance.owner_set) {
    drawHeader(null);
    mount(setupView);
    return;
  }
  if (!state.me) {
    drawHeader(null);
    mount(signinView);
    return;
  }
  if (path === "/") {
    navigate("/photos", { replace: true });
    return;
  }
  const route = ROUTES.find((r) => path === r.path || path.startsWith(`${r.path}/`));
  drawHeader(route);
  if (!route) {
    mount(notFoundView);
    return;
  }
  if (route.owner && state.me.role !== "owner") {
    mount(ownerOnlyView);
    return;
  }
  mount(route.view);
}

function drawHeader(active) {
  if (!state.me) {
    nav.replaceChildren();
    nav.hidden = true;
    who.replaceChildren();
    return;
  }
  nav.hidden = false;
  const links = ROUTES.filter((r) => r.nav && (!r.owner || state.me.role === "owner")).map((r) =>
    h("a", { href: r.path, "aria-current": active === r ? "page" : null }, r.nav),
  );
  nav.replaceChildren(h("ul", {}, links.map((a) => h("li", {}, a))));
  who.replaceChildren(
    h(
      "a",
      {
        href: "/account",
        class: "account-link",
        "aria-current": active && active.path === "/account" ? "page" : null,
        title: `Signed in as ${state.me.name}`,
      },
      "Account",
    ),
    h("button", { type: "button", class: "quiet", onclick: signOut }, "Sign out"),
  );
}

async function signOut(event) {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api.signOut();
  } catch (error) {
    // A session that already ended is signed out all the same.
    if (error.status !== 401) {
      button.disabled = false;
      showBanner(error.message);
      return;
    }
  }
  signedOut(null);
  navigate("/", { replace: false });
}

/** After sign-in, first run or an accepted invite: `me` is {name, role}. */
async function signedIn(me, { to = null, notice = null } = {}) {
  hideBanner();
  state.me = me;
  state.instance = { ...(state.instance || {}), owner_set: true };
  try {
    state.me = await api.me();
  } catch {
    /* the answer of the sign-in is enough to go on */
  }
  const path = location.pathname;
  const stay = path !== "/" && path !== "/invite" && !to;
  navigate(stay ? `${path}${location.search}` : to || "/photos", { replace: true });
  if (notice) showBanner(notice, "info");
}

/** The session ended (sign out, or a 401 from the server); `message` says why, if anyone asks. */
function signedOut(message) {
  state.me = null;
  signinView.setNotice(message);
}

api.onUnauthorized(() => {
  if (!state.me) return;
  signedOut("You were signed out. Sign in again to continue.");
  render();
});

const bannerEl = document.getElementById("banner");
function showBanner(text, kind = "error") {
  bannerEl.textContent = text;
  bannerEl.className = `banner ${kind}`;
  bannerEl.setAttribute("role", kind === "error" ? "alert" : "status");
  bannerEl.hidden = false;
}
function hideBanner() {
  bannerEl.hidden = true;
  bannerEl.textContent = "";
}

const notFoundView = {
  render({ main }) {
    const heading = h("h1", {}, "Nothing here");
    main.append(
      heading,
      h("p", {}, "This page does not exist. "),
      h("p", {}, h("a", { href: "/photos" }, "Go to your photos")),
    );
    announce(heading, "Nothing here");
  },
};

const ownerOnlyView = {
  render({ main }) {
    const heading = h("h1", {}, "People");
    main.append(
      heading,
      h("p", {}, "Only the owner of this shoebox adds and removes people. Ask them if someone needs an account."),
    );
    announce(heading, "People");
  },
};

// Same-origin links are drawn here instead of reloading the page.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest("a[href]");
  if (!a || a.hasAttribute("download") || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/assets/"))
    return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  event.preventDefault();
  navigate(`${url.pathname}${url.search}${url.hash}`);
});

window.addEventListener("popstate", render);

async function start() {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  if (path === "/invite") {
    render();
    return;
  }
  try {
    state.instance = await api.instance();
  } catch (error) {
    showStartError(error.message);
    return;
  }
  document.getElementById("insecure").hidden = !state.instance.plain_http_exposed;
  if (state.instance.owner_set) {
    try {
      state.me = await api.me();
    } catch (error) {
      if (error.status !== 401) {
        showStartError(error.message);
        return;
      }
      state.me = null;
    }
  }
  render();
}

function showStartError(text) {
  main.replaceChildren(
    h("h1", {}, "shoebox is not answering"),
    h("p", { class: "message error", role: "alert" }, text),
    h("button", { type: "button", class: "primary", onclick: () => start() }, "Try again"),
  );
}

start();
