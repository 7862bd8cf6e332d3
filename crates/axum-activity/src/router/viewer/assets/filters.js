// The filter form, and its state kept in the page's address so a view can be
// shared: the page's query string holds exactly the API's filter parameters.
"use strict";

(function (viewer) {
  const { localInput } = viewer.format;

  // Fields holding one value each.
  const SINGLE = ["tenant", "actor", "actor_kind", "resource_type", "resource_id", "request_id", "ip", "detail", "text"];
  // Fields holding several values, separated by commas in the form.
  const LISTS = ["action", "category"];
  // Times: local in the form, RFC 3339 UTC in the address.
  const TIMES = ["since", "until"];
  const NAMES = [...SINGLE, ...LISTS, "outcome", ...TIMES];

  let form = null;
  let scopedTenant = null;

  function init(element, tenant) {
    form = element;
    scopedTenant = tenant;
  }

  // The filter parameters of the page's address.
  function fromAddress() {
    const given = new URLSearchParams(window.location.search);
    const params = new URLSearchParams();
    for (const [name, value] of given) {
      if (NAMES.includes(name) && value !== "") params.append(name, value);
    }
    if (scopedTenant !== null) params.delete("tenant");
    return params;
  }

  // The filter parameters the form describes.
  function fromForm() {
    const params = new URLSearchParams();
    for (const name of SINGLE) {
      if (name === "tenant" && scopedTenant !== null) continue;
      const value = form.elements[name].value.trim();
      if (value) params.append(name, value);
    }
    for (const name of LISTS) {
      for (const value of form.elements[name].value.split(",")) {
        if (value.trim()) params.append(name, value.trim());
      }
    }
    for (const box of form.querySelectorAll('input[name="outcome"]')) {
      if (box.checked) params.append("outcome", box.value);
    }
    for (const name of TIMES) {
      const value = form.elements[name].value;
      if (!value) continue;
      const date = new Date(value);
      if (!Number.isNaN(date.getTime())) params.append(name, date.toISOString());
    }
    return params;
  }

  // Shows `params` in the form.
  function toForm(params) {
    for (const name of SINGLE) form.elements[name].value = params.get(name) || "";
    for (const name of LISTS) form.elements[name].value = params.getAll(name).join(", ");
    const outcomes = params.getAll("outcome");
    for (const box of form.querySelectorAll('input[name="outcome"]')) box.checked = outcomes.includes(box.value);
    for (const name of TIMES) {
      const date = params.has(name) ? new Date(params.get(name)) : null;
      form.elements[name].value = date && !Number.isNaN(date.getTime()) ? localInput(date) : "";
    }
  }

  // Puts `params` in the page's address, as a new history entry.
  function toAddress(params) {
    const query = params.toString();
    const address = window.location.pathname + (query ? `?${query}` : "");
    if (address !== window.location.pathname + window.location.search) {
      window.history.pushState(null, "", address);
    }
  }

  // Sets the time range to the last `seconds`, up to now.
  function lastSeconds(seconds) {
    form.elements.since.value = localInput(new Date(Date.now() - seconds * 1000));
    form.elements.until.value = "";
  }

  // Marks the field a refused parameter names.
  function markInvalid(parameter) {
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
    const field = parameter && form.elements[parameter];
    if (field && field.setAttribute) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  viewer.filters = { init, fromAddress, fromForm, toForm, toAddress, lastSeconds, markInvalid };
})(window.ActivityViewer);
