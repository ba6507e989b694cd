// Live updates: the page listens on /trax/live/ and, when the server says something changed,
// fetches a fresh copy of its live part (at most one fetch at a time; changes during a fetch
// cause one more). Reconnects with backoff when the socket drops. While the operator is busy in
// the live part (typing in a field, rows ticked for an action) the refresh waits, so nothing
// they chose is wiped; open <details> stay open across a refresh.
(function () {
  "use strict";
  var main = document.getElementById("live");
  var state = document.getElementById("live-state");
  if (!main || !window.WebSocket) { return; }
  var url = main.getAttribute("data-live-url");
  // The topics this page shows ("runs queue"); none listed: every change refreshes it.
  var topics = (main.getAttribute("data-live-topics") || "").split(/\s+/).filter(Boolean);

  function concerns(changed) {
    if (!topics.length || !changed) { return true; }
    return changed.some(function (topic) { return topics.indexOf(topic) >= 0; });
  }
  var fetching = false, again = false, delay = 1000;

  function busy() {
    var active = document.activeElement;
    if (active && main.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) {
      return true;
    }
    return main.querySelector("input[type=checkbox]:checked") !== null;
  }

  function replace(html) {
    var open = [];
    main.querySelectorAll("details").forEach(function (d, i) { if (d.open) { open.push(i); } });
    main.innerHTML = html;
    var details = main.querySelectorAll("details");
    open.forEach(function (i) { if (details[i]) { details[i].open = true; } });
  }

  var waiting = false;
  function refresh() {
    if (busy()) { waiting = true; return; }
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(url, { headers: { "X-Trax-Fragment": "1" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        if (busy()) { waiting = true; } else { replace(html); }
      })
      .catch(function () {})
      .then(function () {
        fetching = false;
        if (again) { again = false; refresh(); }
      });
  }

  function resume() {
    if (waiting && !busy()) { waiting = false; refresh(); }
  }
  main.addEventListener("change", function () { setTimeout(resume, 0); });
  main.addEventListener("focusout", function () { setTimeout(resume, 0); });

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/trax/live/");
    socket.onopen = function () { delay = 1000; state.classList.add("on"); };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "changed" && concerns(message.topics)) { refresh(); }
    };
    socket.onclose = function (event) {
      state.classList.remove("on");
      if (event.code === 4403) { return; }  // not staff: the page itself is refused too
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
}());
