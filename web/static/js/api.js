// Small client for the JSON API: same-origin fetch with the session cookie.

/**
 * Result of an API call: { ok, status, data } where data is the decoded JSON body or {}.
 * A failed call always carries data.error: the server's message, or one made up here when the
 * answer was not JSON (a proxy's error page) or the server could not be reached (status 0).
 *
 * options.keepalive: the request outlives the page (leaving a call while the tab closes);
 * such a request never redirects to sign-in, since nobody is left to see the page.
 */
export async function api(method, path, body, options = {}) {
  const keepalive = Boolean(options.keepalive);
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, keepalive };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    return { ok: false, status: 0, data: { error: "The server cannot be reached. Check your connection and try again." } };
  }
  if (response.status === 401 && !keepalive && !path.startsWith("/api/auth/")) {
    // The sign-in ended: come back here after signing in again.
    const next = location.pathname + location.search;
    location.assign(`/signin?next=${encodeURIComponent(next)}`);
  }
  let data = {};
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) {
    try {
      data = await response.json();
    } catch {
      data = {};
    }
  }
  if (!response.ok && !data.error) {
    data.error = `The server answered ${response.status}. Please try again.`;
  }
  return { ok: response.ok, status: response.status, data };
}

export const get = (path) => api("GET", path);
