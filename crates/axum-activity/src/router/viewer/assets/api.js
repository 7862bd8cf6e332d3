// Talking to the log router: every address is relative to where the router
// is mounted, found from the page's own address (`<base>/ui`).
"use strict";

(function (viewer) {
  // The listing's path: the page's, without its last segment (`ui`).
  function listPath() {
    const path = window.location.pathname.replace(/\/ui\/?$/, "");
    return path === "" ? "/" : path;
  }

  // The address of endpoint `name` ("" for the listing), with `params`.
  function url(name, params) {
    const base = listPath();
    let path = base;
    if (name) path = base.endsWith("/") ? base + name : `${base}/${name}`;
    const query = params ? params.toString() : "";
    return query ? `${path}?${query}` : path;
  }

  // The JSON answer, or an Error carrying the router's message and the
  // parameter it names.
  async function getJson(name, params) {
    const response = await fetch(url(name, params), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const error = new Error(body && body.error ? body.error : `the server answered ${response.status}`);
      error.status = response.status;
      error.parameter = body && body.parameter ? body.parameter : null;
      throw error;
    }
    return body;
  }

  viewer.api = { url, getJson };
})(window.ActivityViewer);
