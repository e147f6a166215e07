// Every route of the shoebox API, and the only module that calls fetch. Every failure becomes an
// ApiError whose message is a sentence a person can act on.

/** A failed request: `status` (0 when the server could not be reached), `code` from the body. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter, data = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    /** The whole JSON error body (e.g. `peer` and `last_seen_at` of an unreachable home). */
    this.data = data;
  }
}

let unauthorizedHandler = null;

/** Called (once per failing request) when a signed-in request answers 401: the session ended. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** "30 seconds", "2 minutes", "1 hour". */
export function waitText(seconds) {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return s === 1 ? "1 second" : `${s} seconds`;
  const m = Math.ceil(s / 60);
  if (m < 90) return `${m} minutes`;
  const h = Math.ceil(m / 60);
  return h === 1 ? "1 hour" : `${h} hours`;
}

const SENTENCES = {
  wrong_password:
    "That name and password do not match. Check them (capital letters count) and try again.",
  wrong_setup_code:
    "That setup code is not right. On the box, run “shoebox setup-code” to see it, then type it again.",
  owner_exists: "This shoebox already has an owner. Sign in instead.",
  invite_invalid:
    "This invite link no longer works: it was already used, it expired after 7 days, or a newer link replaced it. Ask for a new link.",
  forbidden: "Only the owner of this shoebox can do that.",
  unauthorized: "You are signed out. Sign in again to continue.",
  cross_origin:
    "The server refused a request that did not come from this page. Reload the page and try again.",
  not_found: "That item no longer exists. It may have been moved or deleted; reload the page.",
  thumbnail_unavailable: "There is no preview for this kind of file yet. You can still download it.",
  code_format: "A code is only digits: check that you typed all of them, then press the button again.",
  wrong_code:
    "That code was not the right one, so this request has ended on both sides. Nothing was shared. Start again with Connect, and read the new code slowly.",
  request_not_found: "This request is no longer open: it ended or expired. Start again with Connect.",
  share_not_found: "That share no longer exists. Reload the page.",
};

/** Errors from another home: the server's own message names the address and what to check. */
const PEER_CODES = new Set(["peer_unreachable", "peer_timeout", "pairing_refused", "peer_failed", "peer_error"]);

function sentence(status, code, serverMessage, retryAfter) {
  if (code === "rate_limited" || status === 429) {
    return retryAfter
      ? `Too many attempts. Wait ${waitText(retryAfter)}, then try again.`
      : "Too many attempts. Wait a little, then try again.";
  }
  if (SENTENCES[code]) return SENTENCES[code];
  if (PEER_CODES.has(code) && serverMessage) return ensureSentence(serverMessage);
  if (status === 400 || status === 409 || status === 422) {
    // The server's own message names the rule that was broken (e.g. a too-short password).
    if (serverMessage) return ensureSentence(serverMessage);
    return "The server could not accept that. Check what you typed and try again.";
  }
  if (status === 401) return SENTENCES.unauthorized;
  if (status === 403) return SENTENCES.forbidden;
  if (status === 404) return SENTENCES.not_found;
  if (status === 413) return "That is too much to send at once.";
  if (status >= 500)
    return "The shoebox server had a problem. Try again in a minute; if it keeps happening, restart the box.";
  return serverMessage
    ? ensureSentence(serverMessage)
    : `Something went wrong (error ${status}). Try again.`;
}

function ensureSentence(text) {
  const t = String(text).trim();
  if (!t) return "Something went wrong. Try again.";
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

async function request(method, path, body, { quiet401 = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(
      0,
      "network",
      "Could not reach the shoebox server. Check that the box is on and that this device is on the home network, then try again.",
    );
  }
  if (response.ok) {
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  const code = (data && typeof data.error === "string" && data.error) || "";
  const retryHeader = response.headers.get("Retry-After");
  const retryAfter = retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : null;
  const message = sentence(response.status, code, data && data.message, retryAfter);
  const error = new ApiError(response.status, code, message, retryAfter, data);
  if (response.status === 401 && !quiet401 && unauthorizedHandler) unauthorizedHandler(error);
  throw error;
}

const enc = encodeURIComponent;

// Unauthenticated
export const instance = () => request("GET", "/api/instance");
export const setup = (code, name, password, library) =>
  request("POST", "/api/setup", { code, name, password, library: library || null }, { quiet401: true });
export const signIn = (name, password) =>
  request("POST", "/api/session", { name, password }, { quiet401: true });
export const acceptInvite = (code, password) =>
  request("POST", "/api/invite/accept", { code, password }, { quiet401: true });

// Signed in
export const me = () => request("GET", "/api/me", undefined, { quiet401: true });
export const signOut = () => request("DELETE", "/api/session", undefined, { quiet401: true });
export const changePassword = (current, next) =>
  request("POST", "/api/me/password", { current, new: next }, { quiet401: true });

/**
 * One page of photos, newest first; `album` limits it to one folder (and below); `owner` asks
 * for what another person (local name or `bob@HOST:PORT`) shares with the caller.
 */
export function photos({ cursor = null, album = null, owner = null, limit = 120 } = {}) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (cursor) q.set("cursor", cursor);
  if (album) q.set("album", album);
  if (owner) q.set("owner", owner);
  return request("GET", `/api/photos?${q}`);
}
export const albums = () => request("GET", "/api/albums");

// URLs the page loads directly (<img src>, <a href>): same origin, the cookie goes along.
// A photo of another home is asked for with `?owner=bob@HOST:PORT`.
const ownerQuery = (owner, sep) => (owner ? `${sep}owner=${enc(owner)}` : "");
export const thumbnailUrl = (id, owner = null) => `/api/photos/${enc(id)}/thumbnail${ownerQuery(owner, "?")}`;
export const previewUrl = (id, owner = null) => `/api/photos/${enc(id)}/preview${ownerQuery(owner, "?")}`;
export const downloadUrl = (id, owner = null) => `/api/photos/${enc(id)}?download=1${ownerQuery(owner, "&")}`;

// Connections with other homes
export const connections = () => request("GET", "/api/connections");
export const connect = (address, purpose) => request("POST", "/api/connections", { address, purpose });
export const approveRequest = (id, code) => request("POST", `/api/connections/${enc(id)}/approve`, { code });
export const rejectRequest = (id) => request("POST", `/api/connections/${enc(id)}/reject`);
export const forgetInstance = (instanceId) => request("DELETE", `/api/instances/${enc(instanceId)}`);

// Sharing
export const shareTargets = () => request("GET", "/api/share-targets");
/** Shares an album (`{album}`) or photos (`{photos: [id…]}`) with `person`. */
export const share = (person, what) => request("POST", "/api/shares", { with: person, ...what });
export const myShares = () => request("GET", "/api/shares");
export const stopSharing = (id) => request("DELETE", `/api/shares/${enc(id)}`);
export const sharedWithMe = () => request("GET", "/api/shared");

// Owner
export const people = () => request("GET", "/api/people");
export const folders = () => request("GET", "/api/folders");
export const addPerson = (name, library) => request("POST", "/api/people", { name, library });
export const newInvite = (name) => request("POST", `/api/people/${enc(name)}/invite`);
export const removePerson = (name) => request("DELETE", `/api/people/${enc(name)}`);
