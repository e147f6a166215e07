// Connections: connect this home with a relative's home by reading codes to each other over the
// phone, follow a request live (polling GET /api/connections every 2 s while one is open, and
// when the tab comes back), approve or reject incoming requests, list the connections, and (owner)
// forget a connected home.

import * as api from "./api.js";
import { h, field, messageArea, busy, announce, formatInstant, uid } from "./ui.js";

const FAST_POLL_MS = 2000;
// With nothing open, the page still looks now and then, so a request someone just sent appears.
const SLOW_POLL_MS = 15000;

/** "bob" of "bob@nas-b.example:7443". */
const personName = (remote) => String(remote || "").split("@")[0] || String(remote || "");
/** "nas-b.example:7443" of "bob@nas-b.example:7443". */
const homeOf = (remote) => {
  const s = String(remote || "");
  const at = s.indexOf("@");
  return at >= 0 ? s.slice(at + 1) : "";
};
/** "123456" → "123 456"; "1234" → "12 34". */
const grouped = (code) => {
  const d = String(code || "").replace(/\D/g, "");
  return d.length === 6 ? `${d.slice(0, 3)} ${d.slice(3)}` : d.length === 4 ? `${d.slice(0, 2)} ${d.slice(2)}` : d;
};

/** The big digits a person reads aloud, in an element labelled "Code to read". */
function codeToRead(code, instruction) {
  const id = uid("code");
  return h(
    "div",
    { class: "code-box" },
    h("label", { for: id, class: "code-label" }, "Code to read"),
    h("output", { id, class: "code" }, grouped(code)),
    h("p", { class: "code-instruction" }, instruction),
  );
}

function until(expires) {
  const when = formatInstant(expires);
  return when ? `This request ends on ${when} if it is not finished.` : "";
}

export function render({ main, me }) {
  let gone = false;
  let timer = 0;
  let loading = null;
  const cards = new Map(); // request id → {el, update(request)}
  const heading = h("h1", {}, "Connections");
  const message = messageArea();
  const requestsEl = h("div", { class: "requests" });
  const endedEl = h("div", { class: "ended", "aria-live": "polite" });
  const status = h("p", { class: "grid-status", role: "status" }, "Loading…");

  // ---- Connect -----------------------------------------------------------------------------
  const address = field(
    "Address",
    { type: "text", autocomplete: "off", autocapitalize: "none", spellcheck: "false", inputmode: "email" },
    { hint: "Their name, then @, then the address of their shoebox — for example bob@nas-b.example:7443. They can see it on their Connections page." },
  );
  const purpose = field(
    "Purpose",
    { type: "text", maxlength: "200", autocomplete: "off" },
    { hint: "A few words so they know it is you, for example “Alice, your sister”." },
  );
  const nearbyEl = h("div", { class: "nearby", hidden: true });
  const connectMessage = messageArea();
  const connectButton = h("button", { type: "submit", class: "primary" }, "Connect");
  const connectForm = h(
    "form",
    { class: "card form connect", novalidate: true },
    h("h2", {}, "Connect with someone in another home"),
    h("p", {}, "Call them first. You will each read a short code to the other, so nobody else can connect in your place."),
    address.row,
    nearbyEl,
    purpose.row,
    connectMessage.el,
    h("div", { class: "actions" }, connectButton),
  );
  connectForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    connectMessage.clear();
    const to = address.input.value.trim();
    if (!/^[^@\s]+@[^@\s]+$/.test(to)) {
      connectMessage.show(
        to.includes("@")
          ? "Type the address as name@address, for example bob@nas-b.example:7443, with no spaces."
          : "Type their name first, then @, then their shoebox’s address — for example bob@nas-b.example:7443.",
      );
      address.input.focus();
      return;
    }
    try {
      const request = await busy(connectButton, "Connecting…", () => api.connect(to, purpose.input.value.trim()));
      if (gone) return;
      address.input.value = "";
      purpose.input.value = "";
      message.clear();
      showRequests([request, ...current.requests.filter((r) => r.id !== request.id)]);
      const card = cards.get(request.id);
      if (card) card.el.scrollIntoView({ block: "start", behavior: "smooth" });
      refresh();
    } catch (error) {
      connectMessage.show(error.message);
    }
  });

  function showNearby(nearby) {
    if (!nearby || !nearby.length) {
      nearbyEl.hidden = true;
      nearbyEl.replaceChildren();
      return;
    }
    nearbyEl.hidden = false;
    nearbyEl.replaceChildren(
      h("p", { class: "hint" }, "Shoeboxes nearby on this network — tap one to fill in its address, then type the person’s name before the @:"),
      h(
        "ul",
        { class: "nearby-list" },
        nearby.map((n) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "quiet nearby-pick",
                onclick: () => {
                  const typed = address.input.value.trim();
                  const user = typed.includes("@") ? typed.slice(0, typed.indexOf("@")) : typed;
                  address.input.value = `${user}@${n.address}`;
                  address.input.focus();
                  address.input.setSelectionRange(0, user.length);
                },
              },
              h("span", { class: "nearby-name" }, n.name || n.address),
              h("span", { class: "nearby-address" }, n.address),
            ),
          ),
        ),
      ),
    );
  }

  // ---- Requests ----------------------------------------------------------------------------
  let current = { requests: [] };

  function showRequests(requests) {
    current = { ...current, requests };
    const seen = new Set();
    for (const request of requests) {
      seen.add(request.id);
      let card = cards.get(request.id);
      if (!card) {
        card = request.direction === "incoming" ? incomingCard(request) : outgoingCard(request);
        cards.set(request.id, card);
      }
      card.update(request);
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.el.remove();
        cards.delete(id);
      }
    }
    requestsEl.replaceChildren(...requests.map((r) => cards.get(r.id).el));
  }

  function outgoingCard(request) {
    const who = personName(request.remote);
    const titleId = uid("req");
    const body = h("div", { class: "request-body" });
    const cardMessage = messageArea();
    const confirmCode = field(
      "Confirmation code",
      { type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "12", class: "code-input" },
      { hint: `The 4 digits ${who} reads to you.` },
    );
    const confirmButton = h("button", { type: "submit", class: "primary" }, "Confirm");
    const confirmForm = h("form", { class: "form", novalidate: true }, confirmCode.row, h("div", { class: "actions" }, confirmButton));
    const cancel = h("button", { type: "button", class: "danger-outline" }, "Cancel");
    const el = h(
      "section",
      { class: "card request outgoing", "aria-labelledby": titleId },
      h("h2", { id: titleId }, `Connecting with ${who}`),
      h("p", { class: "request-meta" }, `${request.remote}`),
      body,
      cardMessage.el,
      h("div", { class: "actions" }, cancel),
    );
    confirmForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      cardMessage.clear();
      try {
        await busy(confirmButton, "Checking…", () => api.approveRequest(request.id, confirmCode.input.value));
        if (gone) return;
        message.show(`You are connected with ${request.remote}. You can now share albums with each other.`, "info");
        message.el.scrollIntoView({ block: "center" });
        refresh();
      } catch (error) {
        if (gone) return;
        if (error.code === "code_format") {
          cardMessage.show(`That is not the whole code: type all 4 digits ${who} reads to you, then press Confirm.`);
          confirmCode.input.focus();
        } else {
          message.show(error.message);
          message.el.scrollIntoView({ block: "center" });
          refresh();
        }
      }
    });
    cancel.addEventListener("click", () => rejectOrCancel(request, cancel, cardMessage, "Cancelling…"));
    let shown = "";
    return {
      el,
      update(r) {
        if (r.state === shown) return;
        shown = r.state;
        if (r.state === "awaiting_peer_approval") {
          body.replaceChildren(
            h("p", { class: "step" }, `Step 1 of 2 · Waiting for ${who} to type your code`),
            codeToRead(r.code, `Read this code to ${who}. ${who} types it on their Connections page.`),
            h("p", { class: "waiting", role: "status" }, h("span", { class: "dot", "aria-hidden": "true" }), `Waiting for ${who}… this page updates by itself.`),
            h("p", { class: "hint" }, until(r.expires_at)),
          );
        } else if (r.state === "awaiting_confirmation") {
          body.replaceChildren(
            h("p", { class: "step done" }, `Step 2 of 2 · ${who} accepted your code`),
            h("p", { class: "instruction" }, `Type the code ${who} reads to you`),
            confirmForm,
            h("p", { class: "hint" }, until(r.expires_at)),
          );
          confirmCode.input.focus();
        } else {
          body.replaceChildren(h("p", { class: "waiting", role: "status" }, h("span", { class: "dot", "aria-hidden": "true" }), "Working on it…"));
        }
      },
    };
  }

  function incomingCard(request) {
    const who = personName(request.remote);
    const titleId = uid("req");
    const body = h("div", { class: "request-body" });
    const cardMessage = messageArea();
    const code = field(
      "Code",
      { type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "16", class: "code-input" },
      { hint: `The 6 digits ${who} reads to you on the phone.` },
    );
    const approve = h("button", { type: "submit", class: "primary" }, "Approve");
    const reject = h("button", { type: "button", class: "danger-outline" }, "Reject");
    const approveForm = h("form", { class: "form", novalidate: true }, code.row, cardMessage.el, h("div", { class: "actions" }, approve, reject));
    const warning = h(
      "p",
      { class: "message warning conflict", role: "alert" },
      `Careful: two requests say they come from ${request.remote}. One of them may be someone pretending to be ${who}, so neither can be approved. Press Reject on both, then ask ${who} to press Connect again while you are on the phone.`,
    );
    const el = h(
      "section",
      { class: "card request incoming", "aria-labelledby": titleId },
      h("h2", { id: titleId }, `${who} wants to connect`),
      body,
    );
    approveForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      cardMessage.clear();
      if (!code.input.value.trim()) {
        cardMessage.show(`Type the 6 digits ${who} reads to you first.`);
        code.input.focus();
        return;
      }
      try {
        const answer = await busy(approve, "Checking…", () => api.approveRequest(request.id, code.input.value));
        if (gone) return;
        const r = { ...current.requests.find((x) => x.id === request.id), state: "awaiting_verify", confirm_code: answer && answer.confirm_code };
        showRequests(current.requests.map((x) => (x.id === request.id ? r : x)));
        refresh();
      } catch (error) {
        if (gone) return;
        if (error.code === "code_format") {
          cardMessage.show(`That is not the whole code: type all 6 digits ${who} reads to you (spaces do not matter), then press Approve.`);
          code.input.focus();
        } else {
          message.show(error.message);
          message.el.scrollIntoView({ block: "center" });
          refresh();
        }
      }
    });
    reject.addEventListener("click", () => rejectOrCancel(request, reject, cardMessage, "Rejecting…"));
    let shown = "";
    return {
      el,
      update(r) {
        const key = `${r.state}|${r.confirm_code || ""}|${r.conflicting}`;
        if (key === shown) return;
        shown = key;
        const facts = h(
          "dl",
          { class: "request-facts" },
          h("dt", {}, "Who"),
          h("dd", {}, who),
          h("dt", {}, "From"),
          h("dd", {}, homeOf(r.remote)),
          h("dt", {}, "Why"),
          h("dd", {}, r.purpose ? `“${r.purpose}”` : "(no reason given)"),
          h("dt", {}, "Ends"),
          h("dd", {}, formatInstant(r.expires_at)),
        );
        if (r.state === "awaiting_verify" || r.state === "awaiting_complete") {
          body.replaceChildren(
            h("p", { class: "step done" }, "The code was right"),
            r.confirm_code
              ? codeToRead(r.confirm_code, `Read this code to ${who}. ${who} types it to finish connecting.`)
              : h("p", {}, `Waiting for ${who} to finish.`),
            h("p", { class: "waiting", role: "status" }, h("span", { class: "dot", "aria-hidden": "true" }), `Waiting for ${who}… this page updates by itself.`),
          );
        } else if (r.state === "in_progress") {
          body.replaceChildren(facts, h("p", { class: "waiting", role: "status" }, "Working on it…"));
        } else if (r.conflicting) {
          // The server refuses to approve either of two requests claiming the same person.
          body.replaceChildren(warning, facts, cardMessage.el, h("div", { class: "actions" }, reject));
        } else {
          approveForm.querySelector(".actions").append(reject);
          approveForm.insertBefore(cardMessage.el, approveForm.querySelector(".actions"));
          body.replaceChildren(
            facts,
            h("p", { class: "instruction" }, `Ask ${who} to read you the code on their screen, and type it here:`),
            approveForm,
          );
        }
      },
    };
  }

  async function rejectOrCancel(request, button, cardMessage, label) {
    cardMessage.clear();
    try {
      await busy(button, label, () => api.rejectRequest(request.id));
      if (gone) return;
      refresh();
    } catch (error) {
      if (gone) return;
      cardMessage.show(error.message);
      refresh();
    }
  }

  // ---- Ended requests ----------------------------------------------------------------------
  /** Only the newest ending per person, and none for a person with a request open again. */
  function showEnded(ended) {
    const seen = new Set(current.requests.map((r) => r.remote));
    const newest = (ended || []).filter((e) => {
      if (seen.has(e.remote)) return false;
      seen.add(e.remote);
      return true;
    });
    endedEl.replaceChildren(
      ...newest.map((e) => {
        const who = personName(e.remote);
        const next =
          e.direction === "outgoing"
            ? `To try again, call ${who}, press Connect below and read the new code.`
            : `If you still want to connect, ask ${who} to press Connect again and read you the new code.`;
        return h(
          "div",
          { class: "card ended-request", role: "status" },
          h("p", { class: "ended-title" }, `Not connected with ${e.remote}`),
          h("p", {}, `What happened: ${e.reason || "the request ended"}${e.ended_at ? ` (${formatInstant(e.ended_at)})` : ""}.`),
          h("p", {}, next),
        );
      }),
    );
  }

  // ---- Connections and instances -----------------------------------------------------------
  const connectionsList = h("ul", { class: "connections" });
  const instancesSection = h("section", { class: "instances", hidden: true });

  function showConnections(list) {
    if (!list || !list.length) {
      connectionsList.replaceChildren(h("li", { class: "empty-line" }, "No connections yet."));
      return;
    }
    connectionsList.replaceChildren(
      ...list.map((c) =>
        h(
          "li",
          { class: "card connection" },
          h("p", { class: "person-name" }, c.name || personName(c.person)),
          h("p", { class: "person-meta" }, `At ${c.peer_name || homeOf(c.person)}`),
          h("p", { class: "person-meta" }, c.last_seen_at ? `Last seen ${formatInstant(c.last_seen_at)}` : "Not seen yet"),
        ),
      ),
    );
  }

  // Forget (owner): confirmed in a dialog.
  const confirmTitle = h("h2", { id: uid("confirm") });
  const confirmText = h("p");
  const confirmYes = h("button", { type: "button", class: "danger" }, "Yes, forget");
  const confirmNo = h("button", { type: "button" }, "Cancel");
  const confirmMessage = messageArea();
  const confirm = h(
    "dialog",
    { class: "confirm", "aria-labelledby": confirmTitle.id },
    confirmTitle,
    confirmText,
    confirmMessage.el,
    h("div", { class: "actions" }, confirmYes, confirmNo),
  );
  let forgetting = null;
  confirmNo.addEventListener("click", () => confirm.close());
  confirmYes.addEventListener("click", async () => {
    if (!forgetting) return;
    confirmMessage.clear();
    try {
      await busy(confirmYes, "Forgetting…", () => api.forgetInstance(forgetting.instance_id));
      confirm.close();
      message.show(`This shoebox forgot ${forgetting.address}. Nothing is shared with its people any more.`, "info");
      refresh();
    } catch (error) {
      confirmMessage.show(error.message);
    }
  });

  function showInstances(instances) {
    if (!instances) {
      instancesSection.hidden = true;
      return;
    }
    instancesSection.hidden = false;
    instancesSection.replaceChildren(
      h("h2", { class: "section-title" }, "Connected homes"),
      h("p", { class: "hint" }, "Only you, the owner, see this list. Forgetting a home ends every connection and share with its people."),
      instances.length
        ? h(
            "ul",
            { class: "connections" },
            instances.map((i) => {
              const forget = h("button", { type: "button", class: "danger-outline" }, "Forget");
              forget.addEventListener("click", () => {
                forgetting = i;
                confirmTitle.textContent = `Forget ${i.address}?`;
                confirmText.textContent = `This ends every connection with the people of ${i.address} and stops everything shared with them. To connect again, you would read codes to each other again.`;
                confirmMessage.clear();
                confirm.showModal();
                confirmNo.focus();
              });
              const people = (i.users || []).map((u) => `${u.local} ↔ ${personName(u.remote)}`).join(", ");
              return h(
                "li",
                { class: "card connection" },
                h("div", { class: "person-main" },
                  h("p", { class: "person-name" }, i.address),
                  people ? h("p", { class: "person-meta" }, people) : null,
                  h("p", { class: "person-meta" }, i.last_seen_at ? `Last seen ${formatInstant(i.last_seen_at)}` : "Not seen yet"),
                ),
                h("div", { class: "person-actions" }, forget),
              );
            }),
          )
        : h("p", { class: "empty-line" }, "No connected homes."),
    );
  }

  // ---- Loading and polling -----------------------------------------------------------------
  function schedule() {
    clearTimeout(timer);
    if (gone) return;
    const open = current.requests.length > 0;
    if (document.visibilityState === "hidden") return;
    timer = setTimeout(refresh, open ? FAST_POLL_MS : SLOW_POLL_MS);
  }

  function refresh() {
    if (loading || gone) return loading;
    clearTimeout(timer);
    loading = (async () => {
      try {
        const data = await api.connections();
        if (gone) return;
        status.hidden = true;
        showRequests(data.requests || []);
        showEnded(data.ended);
        showConnections(data.connections);
        showNearby(data.nearby);
        showInstances(data.instances);
      } catch (error) {
        if (gone) return;
        status.hidden = false;
        status.className = "grid-status error";
        status.replaceChildren(h("span", {}, error.message), " ", h("button", { type: "button", onclick: refresh }, "Try again"));
      } finally {
        loading = null;
        schedule();
      }
    })();
    return loading;
  }

  const onVisible = () => {
    if (document.visibilityState === "visible") refresh();
    else clearTimeout(timer);
  };
  document.addEventListener("visibilitychange", onVisible);

  // The address other homes use for this one is the public URL's host:port, which the server
  // knows; the browser's own location.host is only a fallback (it may be a LAN name).
  const ownAddress = h("strong", { class: "address-text" }, `${me && me.name}@${location.host}`);
  api
    .instance()
    .then((info) => {
      if (info && info.public_address && me) ownAddress.textContent = `${me.name}@${info.public_address}`;
    })
    .catch(() => {});

  main.append(
    heading,
    h("p", { class: "lead" }, "Connect with family in other homes, then share albums with them."),
    me && me.name
      ? h(
          "p",
          { class: "own-address" },
          "Your address, for someone who wants to connect with you: ",
          ownAddress,
        )
      : null,
    message.el,
    status,
    requestsEl,
    endedEl,
    h("h2", { class: "section-title" }, "Your connections"),
    connectionsList,
    connectForm,
    instancesSection,
    confirm,
  );
  announce(heading, "Connections");
  refresh();
  return () => {
    gone = true;
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
    if (confirm.open) confirm.close();
  };
}
