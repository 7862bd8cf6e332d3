// Counts per day by outcome, from `GET stats`, drawn as stacked bars in SVG.
"use strict";

(function (viewer) {
  const { OUTCOMES } = viewer.format;
  const SVG = "http://www.w3.org/2000/svg";
  const MAX_DAYS = 31;
  const WIDTH = 620;
  const HEIGHT = 140;
  const AXIS = 18;

  function svg(tag, attributes, text) {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
    if (text !== undefined) element.textContent = text;
    return element;
  }

  // `counts` added up per UTC day and outcome, over the last days that have
  // any (gaps between them kept as empty days).
  function perDay(counts) {
    const days = new Map();
    for (const count of counts) {
      const day = days.get(count.day) || {};
      day[count.outcome] = (day[count.outcome] || 0) + count.count;
      days.set(count.day, day);
    }
    const known = [...days.keys()].sort();
    if (known.length === 0) return [];
    const last = new Date(`${known[known.length - 1]}T00:00:00Z`);
    const first = new Date(Math.max(new Date(`${known[0]}T00:00:00Z`).getTime(), last.getTime() - (MAX_DAYS - 1) * 86400000));
    const result = [];
    for (let at = first; at <= last; at = new Date(at.getTime() + 86400000)) {
      const day = at.toISOString().slice(0, 10);
      result.push([day, days.get(day) || {}]);
    }
    return result;
  }

  // Replaces the content of `container` with the chart of `stats`.
  function draw(container, stats) {
    const days = perDay(stats.counts || []);
    container.replaceChildren();
    if (days.length === 0) {
      container.append(viewer.format.el("p", { class: "secondary", text: "No entries." }));
      return;
    }
    const highest = Math.max(1, ...days.map(([, day]) => OUTCOMES.reduce((sum, name) => sum + (day[name] || 0), 0)));
    const slot = WIDTH / days.length;
    const bar = Math.min(36, Math.max(2, slot * 0.7));
    const scale = (HEIGHT - AXIS - 8) / highest;
    const chart = svg("svg", {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart-svg",
      "aria-label": `${stats.total} entries from ${days[0][0]} to ${days[days.length - 1][0]} (UTC days)`,
    });
    days.forEach(([date, day], index) => {
      let top = HEIGHT - AXIS;
      for (const outcome of OUTCOMES) {
        const count = day[outcome] || 0;
        if (!count) continue;
        const height = Math.max(1, count * scale);
        top -= height;
        const rect = svg("rect", {
          x: (index * slot + (slot - bar) / 2).toFixed(1), y: top.toFixed(1),
          width: bar.toFixed(1), height: height.toFixed(1), class: `bar bar-${outcome}`,
        });
        rect.append(svg("title", {}, `${date}: ${count} ${outcome}`));
        chart.append(rect);
      }
    });
    chart.append(
      svg("line", { x1: 0, y1: HEIGHT - AXIS, x2: WIDTH, y2: HEIGHT - AXIS, class: "axis" }),
      svg("text", { x: 0, y: HEIGHT - 4, class: "label" }, days[0][0]),
      svg("text", { x: 0, y: 10, class: "label" }, `${highest} max`));
    if (days.length > 1) {
      chart.append(svg("text", { x: WIDTH, y: HEIGHT - 4, class: "label end" }, days[days.length - 1][0]));
    }
    const legend = viewer.format.el("ul", { class: "legend" },
      OUTCOMES.map((outcome) => viewer.format.el("li", {},
        viewer.format.el("span", { class: `swatch bar-${outcome}`, "aria-hidden": "true" }), outcome)));
    container.append(chart, legend);
  }

  viewer.chart = { draw };
})(window.ActivityViewer);
