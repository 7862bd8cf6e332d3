// Building elements and formatting values. Every value from the log becomes
// a text node (textContent), never markup.
"use strict";

window.ActivityViewer = window.ActivityViewer || {};

(function (viewer) {
  const OUTCOMES = ["success", "warning", "error", "critical"];

  // An element with attributes and children; strings become text nodes.
  function el(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") element.className = value;
      else if (name === "text") element.textContent = value;
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    append(element, children);
    return element;
  }

  function append(parent, children) {
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false || child === "") continue;
      parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return parent;
  }

  // A value cut to `max` characters for the table; the full value stays in
  // the title and in the expanded row. Nothing for no value.
  function cut(value, max) {
    const text = value === undefined || value === null ? "" : String(value);
    if (text === "") return null;
    if (text.length <= max) return el("span", { class: "value", text });
    return el("span", { class: "value cut", title: text, text: text.slice(0, max - 1) + "\u2026" });
  }

  function pad(number, width) {
    return String(number).padStart(width || 2, "0");
  }

  // "2026-12-01 13:05:09" in the reader's time zone.
  function localTime(date) {
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  // The value of a datetime-local input for `date`, in local time.
  function localInput(date) {
    return localTime(date).replace(" ", "T");
  }

  // A <time> showing local time, UTC on hover.
  function time(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return el("span", { text: String(iso) });
    return el("time", { datetime: iso, title: `${iso} (UTC)`, text: localTime(date) });
  }

  function outcomeClass(outcome) {
    return OUTCOMES.includes(outcome) ? `outcome outcome-${outcome}` : "outcome";
  }

  // Pretty JSON, as text.
  function json(value) {
    return el("pre", { class: "json", text: JSON.stringify(value, null, 2) });
  }

  viewer.format = { OUTCOMES, el, append, cut, time, localTime, localInput, outcomeClass, json };
})(window.ActivityViewer);
