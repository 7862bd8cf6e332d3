// Live mode: follows `GET stream` for the current filter and hands each new
// entry to the page, which puts it at the top.
"use strict";

(function (viewer) {
  let source = null;

  // Starts following the entries matching `params`; `onEntry` gets each,
  // `onState` "open", "retrying" or "closed".
  function start(params, onEntry, onState) {
    stop();
    source = new EventSource(viewer.api.url("stream", params), { withCredentials: true });
    source.addEventListener("open", () => onState("open"));
    source.addEventListener("activity", (message) => {
      let entry = null;
      try {
        entry = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      onEntry(entry);
    });
    source.addEventListener("error", () => {
      onState(source && source.readyState === EventSource.CLOSED ? "closed" : "retrying");
    });
  }

  function stop() {
    if (source) source.close();
    source = null;
  }

  function running() {
    return source !== null;
  }

  viewer.live = { start, stop, running };
})(window.ActivityViewer);
