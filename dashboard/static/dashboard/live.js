// Live updates: the page listens on /trax/live/ and, when the server says something changed,
// fetches a fresh copy of its live part (at most one fetch at a time; changes during a fetch
// cause one more). Reconnects with backoff when the socket drops.
(function () {
  "use strict";
  var main = document.getElementById("live");
  var state = document.getElementById("live-state");
  if (!main || !window.WebSocket) { return; }
  var url = main.getAttribute("data-live-url");
  var fetching = false, again = false, delay = 1000;

  function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(url, { headers: { "X-Trax-Fragment": "1" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { main.innerHTML = html; } })
      .catch(function () {})
      .then(function () {
        fetching = false;
        if (again) { again = false; refresh(); }
      });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/trax/live/");
    socket.onopen = function () { delay = 1000; state.classList.add("on"); };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "changed") { refresh(); }
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
