// Shared with me: every person who shares with the signed-in person (of this home or of a
// connected home), and one person's photos in the same grid and viewer as one's own, grouped by
// album (/shared?person=PERSON). A home that does not answer says so within seconds.

import * as api from "./api.js";
import { h, announce, formatInstant } from "./ui.js";
import { photoGrid } from "./grid.js";
import { renderSharedByMe } from "./share.js";

export function render(ctx) {
  if (location.pathname.replace(/\/+$/, "") === "/shared/by-me") return renderSharedByMe(ctx);
  const person = ctx.params.get("person");
  return person ? renderPerson(ctx, person) : renderList(ctx);
}

/** "bob" of "bob@nas-b.example:7443" (a local name stays as it is). */
const nameOf = (person) => String(person).split("@")[0];

/** "nas-b.example:7443 is not answering (last seen …)" for an unreachable home, else null. */
export function notAnswering(error) {
  if (!error || !["peer_unreachable", "peer_timeout"].includes(error.code)) return null;
  const data = error.data || {};
  const host = data.peer || "Their shoebox";
  const seen = data.last_seen_at ? `last seen ${formatInstant(data.last_seen_at)}` : "not seen yet";
  return h(
    "span",
    { class: "not-answering" },
    h("strong", {}, `${host} is not answering (${seen}).`),
    " Their shoebox may be switched off or offline. Your own photos are not affected; try again later.",
  );
}

function renderPerson({ main }, person) {
  const label = person;
  const heading = h("h1", {}, nameOf(person));
  const empty = h(
    "div",
    { class: "empty" },
    h("p", { class: "empty-title" }, `${nameOf(person)} shares nothing with you yet`),
    h("p", {}, "When they share an album or a photo with you, it appears here."),
  );
  // Someone of this home who stopped sharing everything: 404 owner_not_found.
  const describe = (error) =>
    notAnswering(error) ||
    (error.code === "owner_not_found" ? h("span", {}, `${nameOf(person)} shares nothing with you at the moment.`) : null);
  const grid = photoGrid({ owner: person, empty, describeError: describe });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "/shared", class: "back" }, "Shared with me")),
    heading,
    person.includes("@") ? h("p", { class: "lead" }, `Shared with you by ${label}, from their shoebox.`) : h("p", { class: "lead" }, `Shared with you by ${label}, from this shoebox.`),
    grid.el,
  );
  announce(heading, `Shared by ${nameOf(person)}`);
  grid.start();
  return () => grid.destroy();
}

function renderList({ main }) {
  let gone = false;
  const heading = h("h1", {}, "Shared with me");
  const status = h("p", { class: "grid-status", role: "status", "aria-live": "polite" }, "Loading…");
  const list = h("ul", { class: "albums shared-people" });
  main.append(
    h("div", { class: "title-row" }, heading, h("a", { href: "/shared/by-me", class: "button quiet" }, "Shared by me")),
    h("p", { class: "lead" }, "Albums and photos that family members share with you, from this shoebox and from connected homes."),
    status,
    list,
  );
  announce(heading, "Shared with me");

  function card(entry) {
    const href = `/shared?person=${encodeURIComponent(entry.person)}`;
    const cover = h("span", { class: "cover" });
    const meta = h("span", { class: "album-meta" }, entry.kind === "remote" ? "Looking…" : "");
    const where = entry.kind === "remote" ? `From another home: ${entry.label || entry.person}` : "From this shoebox";
    // A first small page says whether there is anything, and whether their home answers.
    (async () => {
      try {
        const page = await api.photos({ owner: entry.person, limit: 1 });
        if (gone) return;
        const first = (page.photos || [])[0];
        if (first) {
          const remoteOwner = first.owner && String(first.owner).includes("@") ? first.owner : null;
          const img = h("img", { alt: "", loading: "lazy", decoding: "async", src: api.thumbnailUrl(first.id, remoteOwner) });
          img.addEventListener("error", () => img.remove(), { once: true });
          cover.append(img);
          meta.textContent = page.next_cursor ? "Photos shared with you" : "1 photo shared with you";
        } else {
          meta.textContent = "Nothing shared with you yet";
        }
      } catch (error) {
        if (gone) return;
        if (error.code === "owner_not_found") {
          meta.textContent = "Nothing shared with you at the moment";
          return;
        }
        const down = notAnswering(error);
        meta.className = "album-meta error";
        meta.replaceChildren(down || error.message);
      }
    })();
    return h(
      "li",
      {},
      h("a", { class: "album", href }, cover, h("span", { class: "album-name" }, nameOf(entry.person)), h("span", { class: "album-meta where" }, where), meta),
    );
  }

  async function load() {
    status.className = "grid-status";
    status.replaceChildren("Loading…");
    try {
      const { people } = await api.sharedWithMe();
      if (gone) return;
      status.replaceChildren();
      if (!people.length) {
        status.replaceChildren(
          h(
            "div",
            { class: "empty" },
            h("p", { class: "empty-title" }, "Nothing is shared with you yet"),
            h(
              "p",
              {},
              "When someone of this home shares with you, they appear here. For family in another home, connect with them first on the ",
              h("a", { href: "/connections" }, "Connections"),
              " page.",
            ),
          ),
        );
        list.replaceChildren();
        return;
      }
      list.replaceChildren(...people.map(card));
    } catch (error) {
      if (gone) return;
      status.className = "grid-status error";
      status.replaceChildren(h("span", {}, error.message), " ", h("button", { type: "button", onclick: load }, "Try again"));
    }
  }
  load();
  return () => {
    gone = true;
  };
}
