// The log as a table: one row per entry, and a details row under it that
// opens with the row's button (every field in full, the details, the diff).
"use strict";

(function (viewer) {
  const { el, cut, time, outcomeClass, json } = viewer.format;

  // How many characters of a value the table shows before cutting it.
  const SHORT = 40;

  // `changes` flattened to rows of [field path, old, new].
  function diffRows(changes, prefix, rows) {
    for (const [field, value] of Object.entries(changes || {})) {
      const path = prefix ? `${prefix}.${field}` : field;
      if (Array.isArray(value) && value.length === 2) rows.push([path, value[0], value[1]]);
      else if (value && typeof value === "object" && !Array.isArray(value)) diffRows(value, path, rows);
      else rows.push([path, undefined, value]);
    }
    return rows;
  }

  function shown(value) {
    if (value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function diffTable(changes) {
    const rows = diffRows(changes, "", []);
    return el("table", { class: "diff" },
      el("caption", { text: "Changes" }),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: "Field" }),
        el("th", { scope: "col", text: "Before" }),
        el("th", { scope: "col", text: "After" }))),
      el("tbody", {}, rows.map(([path, before, after]) => el("tr", {},
        el("th", { scope: "row", text: path }),
        el("td", { class: "old" }, el("code", { text: shown(before) })),
        el("td", { class: "new" }, el("code", { text: shown(after) }))))));
  }

  // Every field of `event`, in full.
  function detailsOf(event, catalogue) {
    const actor = event.actor || {};
    const entry = catalogue.get(event.action);
    const fields = [
      ["Id", event.id],
      ["Time (UTC)", event.occurred_at],
      ["Tenant", event.tenant_id],
      ["Actor", [actor.kind, actor.id, actor.label].filter(Boolean).join(" \u00b7 ")],
      ["Action", event.action],
      ["Category", event.category],
      ["Description", entry && entry.description],
      ["Resource type", event.resource_type],
      ["Resource id", event.resource_id],
      ["Outcome", event.outcome + (event.http_status ? ` (HTTP ${event.http_status})` : "")],
      ["Client IP", event.ip],
      ["Method", event.method],
      ["Route", event.route],
      ["Request id", event.request_id],
      ["User agent", event.user_agent],
    ];
    const list = el("dl", { class: "entry-fields" });
    for (const [name, value] of fields) {
      if (value === undefined || value === null || value === "") continue;
      list.append(el("dt", { text: name }), el("dd", { text: String(value) }));
    }
    const parts = [list];
    const details = event.details && typeof event.details === "object" ? { ...event.details } : event.details;
    if (details && typeof details === "object" && details.changes && typeof details.changes === "object") {
      parts.push(diffTable(details.changes));
      delete details.changes;
    }
    if (details !== undefined && details !== null && !(typeof details === "object" && Object.keys(details).length === 0)) {
      parts.push(el("h3", { text: "Details" }), json(details));
    }
    return parts;
  }

  // The table row of `event` and its details row.
  function rows(event, options) {
    const actor = event.actor || {};
    const entry = options.catalogue.get(event.action);
    const detailsId = `details-${event.id}`;
    const toggle = el("button", {
      type: "button", class: "expand", "aria-expanded": "false", "aria-controls": detailsId,
      "aria-label": "Show details", text: "\u25b8",
    });
    const request = event.request_id
      ? el("button", { type: "button", class: "link request", title: `Every entry of request ${event.request_id}` },
        cut(event.request_id, 12))
      : "";
    if (request) request.addEventListener("click", () => options.onRequest(event.request_id));
    const outcome = el("span", { class: outcomeClass(event.outcome) },
      event.outcome, event.http_status ? el("span", { class: "status", text: String(event.http_status) }) : "");
    const cells = [
      el("td", { class: "toggle" }, toggle),
      el("td", { "data-label": "Time" }, time(event.occurred_at)),
      options.showTenant ? el("td", { "data-label": "Tenant" }, cut(event.tenant_id, SHORT)) : null,
      el("td", { "data-label": "Actor" },
        actor.kind ? el("span", { class: "kind", text: actor.kind }) : "", actor.kind && actor.id ? " " : "",
        cut(actor.id, SHORT),
        actor.label ? el("div", { class: "secondary" }, cut(actor.label, SHORT)) : ""),
      el("td", { "data-label": "Action" },
        el("span", { class: "action", text: event.action }),
        event.category ? el("span", { class: "category", text: event.category }) : "",
        entry && entry.description ? el("div", { class: "secondary" }, cut(entry.description, 60)) : ""),
      el("td", { "data-label": "Resource" },
        event.resource_type ? el("span", { class: "kind", text: event.resource_type }) : "",
        event.resource_type && event.resource_id ? " " : "", cut(event.resource_id, SHORT)),
      el("td", { "data-label": "Outcome" }, outcome),
      el("td", { "data-label": "Client IP" }, cut(event.ip, SHORT)),
      el("td", { "data-label": "Route" },
        event.method ? el("span", { class: "method", text: event.method }) : "",
        event.method && event.route ? " " : "", cut(event.route, SHORT)),
      el("td", { "data-label": "Request" }, request),
    ].filter(Boolean);
    const row = el("tr", { class: `entry row-${event.outcome}`, "data-id": event.id }, cells);
    const detailsRow = el("tr", { class: "details", id: detailsId, hidden: true },
      el("td", { colspan: cells.length }));
    toggle.addEventListener("click", () => {
      const open = detailsRow.hidden;
      if (open && !detailsRow.firstChild.firstChild) {
        detailsRow.firstChild.append(...detailsOf(event, options.catalogue));
      }
      detailsRow.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.setAttribute("aria-label", open ? "Hide details" : "Show details");
      toggle.textContent = open ? "\u25be" : "\u25b8";
    });
    return [row, detailsRow];
  }

  // Arrow keys move between the rows' buttons; Home and End to the ends.
  function keyboard(body) {
    body.addEventListener("keydown", (key) => {
      if (!key.target.classList || !key.target.classList.contains("expand")) return;
      const toggles = [...body.querySelectorAll("button.expand")];
      const at = toggles.indexOf(key.target);
      const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: toggles.length - 1 }[key.key];
      if (to === undefined || !toggles[to]) return;
      key.preventDefault();
      toggles[to].focus();
    });
  }

  viewer.table = { rows, keyboard };
})(window.ActivityViewer);
