// The page: learns the reader's access, shows the filter from the address,
// loads the entries, the chart and the export links, and wires the controls.
"use strict";

(function (viewer) {
  const { api, filters, table, chart, live } = viewer;
  const DEFAULT_PAGE = 50;

  const page = {
    params: new URLSearchParams(),
    size: DEFAULT_PAGE,
    cursor: null,
    seen: new Set(),
    catalogue: new Map(),
    showTenant: true,
    loading: 0,
  };

  const $ = (id) => document.getElementById(id);

  function status(text, isError) {
    $("status").textContent = text;
    $("status").classList.toggle("error", Boolean(isError));
  }

  function failed(error) {
    filters.markInvalid(error.parameter);
    const named = error.parameter ? ` (${error.parameter})` : "";
    status(`Could not read the log${named}: ${error.message}`, true);
  }

  // The page size from the address: `limit`, 1 to 1000.
  function sizeFromAddress() {
    const limit = Number(new URLSearchParams(window.location.search).get("limit"));
    return Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : DEFAULT_PAGE;
  }

  function withExtra(params, extra) {
    const all = new URLSearchParams(params);
    for (const [name, value] of Object.entries(extra)) all.set(name, value);
    return all;
  }

  function options() {
    return { catalogue: page.catalogue, showTenant: page.showTenant, onRequest: showRequest };
  }

  function addRows(events, where) {
    const fragment = document.createDocumentFragment();
    for (const event of events) {
      if (page.seen.has(event.id)) continue;
      page.seen.add(event.id);
      fragment.append(...table.rows(event, options()));
    }
    const body = $("rows");
    if (where === "top") body.prepend(fragment);
    else body.append(fragment);
  }

  function showMore(next) {
    page.cursor = next;
    $("older").hidden = !next;
  }

  // Reloads everything for the current filter.
  async function load() {
    const loading = ++page.loading;
    filters.markInvalid(null);
    $("export-csv").href = api.url("export", withExtra(page.params, { format: "csv" }));
    $("export-jsonl").href = api.url("export", withExtra(page.params, { format: "jsonl" }));
    status("Loading\u2026");
    try {
      const listing = await api.getJson("", withExtra(page.params, { limit: page.size }));
      if (loading !== page.loading) return;
      $("rows").replaceChildren();
      page.seen.clear();
      addRows(listing.events, "bottom");
      showMore(listing.next);
      status(`${listing.events.length} entries${listing.next ? ", older ones below" : ""}.`);
    } catch (error) {
      if (loading === page.loading) failed(error);
      return;
    }
    if ($("live").checked) follow();
    try {
      chart.draw($("chart"), await api.getJson("stats", page.params));
    } catch (_) {
      $("chart").replaceChildren();
    }
  }

  async function older() {
    if (!page.cursor) return;
    try {
      const listing = await api.getJson("", withExtra(page.params, { limit: page.size, cursor: page.cursor }));
      addRows(listing.events, "bottom");
      showMore(listing.next);
      status(`${page.seen.size} entries${listing.next ? ", older ones below" : ""}.`);
    } catch (error) {
      failed(error);
    }
  }

  // Puts a live entry at the top, keeping what the reader looks at in place.
  function arrived(event) {
    const root = document.documentElement;
    const before = root.scrollHeight;
    const reading = window.scrollY > $("log").offsetTop;
    addRows([event], "top");
    const added = $("rows").querySelector(`tr[data-id="${CSS.escape(event.id)}"]`);
    if (added) added.classList.add("new");
    if (reading) window.scrollBy(0, root.scrollHeight - before);
  }

  // The entries that reached the log between the last listing and the
  // stream's start (the stream sends only those after it), oldest first.
  async function catchUp() {
    try {
      const listing = await api.getJson("", withExtra(page.params, { limit: page.size }));
      for (const event of listing.events.filter((event) => !page.seen.has(event.id)).reverse()) arrived(event);
    } catch (error) {
      failed(error);
    }
  }

  function follow() {
    live.start(page.params, arrived, (state) => {
      const text = { open: "Live: new entries appear at the top.", retrying: "Live: reconnecting\u2026", closed: "Live: stopped." }[state];
      if (text) status(text, state !== "open");
      if (state === "open") catchUp();
    });
  }

  function apply(params) {
    page.params = params;
    const shown = new URLSearchParams(params);
    if (page.size !== DEFAULT_PAGE) shown.set("limit", page.size);
    filters.toAddress(shown);
    load();
  }

  function showRequest(requestId) {
    const params = new URLSearchParams({ request_id: requestId });
    filters.toForm(params);
    apply(params);
  }

  async function start() {
    const form = $("filters");
    let tenant = null;
    try {
      const access = await api.getJson("ui/access");
      if (access.scope === "tenant") tenant = access.tenant;
    } catch (error) {
      failed(error);
      return;
    }
    page.showTenant = tenant === null;
    for (const element of document.querySelectorAll('[data-field="tenant"]')) element.hidden = tenant !== null;
    $("scope").textContent = tenant === null ? "All tenants" : `Tenant ${tenant}`;
    try {
      const listing = await api.getJson("actions");
      for (const entry of listing.actions || []) page.catalogue.set(entry.action, entry);
      const categories = new Set();
      for (const entry of page.catalogue.values()) {
        $("actions").append(viewer.format.el("option", { value: entry.action }));
        if (entry.category) categories.add(entry.category);
      }
      for (const category of categories) $("categories").append(viewer.format.el("option", { value: category }));
    } catch (_) {
      // The catalogue only adds descriptions; the log reads without it.
    }
    // On a narrow screen the filters start folded, the log first in view.
    if (window.matchMedia("(max-width: 760px)").matches) $("filter-panel").open = false;
    filters.init(form, tenant);
    page.size = sizeFromAddress();
    page.params = filters.fromAddress();
    filters.toForm(page.params);
    table.keyboard($("rows"));

    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      apply(filters.fromForm());
    });
    $("clear").addEventListener("click", () => {
      form.reset();
      apply(filters.fromForm());
    });
    for (const button of form.querySelectorAll("button[data-range]")) {
      button.addEventListener("click", () => {
        filters.lastSeconds(Number(button.dataset.range));
        apply(filters.fromForm());
      });
    }
    $("older").addEventListener("click", older);
    $("live").addEventListener("change", () => {
      if ($("live").checked) follow();
      else {
        live.stop();
        status("Live: stopped.");
      }
    });
    window.addEventListener("popstate", () => {
      page.params = filters.fromAddress();
      filters.toForm(page.params);
      load();
    });
    await load();
  }

  document.addEventListener("DOMContentLoaded", start);
})(window.ActivityViewer);
