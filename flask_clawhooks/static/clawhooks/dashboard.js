/* Progressive enhancements for the webhooks dashboard. Every page works without them:
   select-all boxes and the copy button stay hidden, forms submit, the delivery log has a
   Reload link. This file is the only script the pages load (their Content-Security-Policy
   allows no inline script), and it uses no eval and no inline styles. */
(function () {
  "use strict";

  // -- times ------------------------------------------------------------------------------
  // Relative times follow flask_clawhooks/dashboard/display.py: "just now", "42 s ago",
  // "3 min ago", "5 h ago", "2 days ago"; "in 40 s", "in 4 min"; "due now".
  // The page says the server's time (body[data-now]); the difference to this browser's
  // clock is kept, so a wrong clock on the visitor's machine does not skew the wording.
  var serverNow = Date.parse(document.body.getAttribute("data-now") || "");
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function amount(seconds, future) {
    if (seconds < 60) { return (future ? Math.ceil(seconds) : Math.floor(seconds)) + " s"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min"; }
    if (seconds < 48 * 3600) { return Math.floor(seconds / 3600) + " h"; }
    var days = Math.floor(seconds / 86400);
    return days + (days === 1 ? " day" : " days");
  }

  function relative(moment, countdown) {
    var seconds = (moment - (Date.now() + skew)) / 1000;
    if (seconds > 0) { return "in " + amount(seconds, true); }
    if (countdown) { return "due now"; }
    seconds = -seconds;
    if (seconds < 10) { return "just now"; }
    return amount(seconds, false) + " ago";
  }

  function refreshTimes(root) {
    (root || document).querySelectorAll("time[data-relative]").forEach(function (el) {
      var moment = Date.parse(el.getAttribute("datetime"));
      if (isNaN(moment)) { return; }
      var text = relative(moment, el.getAttribute("data-relative") === "countdown");
      if (el.textContent !== text) { el.textContent = text; }
    });
  }
  refreshTimes();
  window.setInterval(refreshTimes, 1000);

  // -- messages ---------------------------------------------------------------------------
  function flash(message, category) {
    var box = document.getElementById("ch-messages");
    if (!box) { return; }
    var p = document.createElement("p");
    p.className = "ch-flash ch-flash-" + category;
    p.setAttribute("role", category === "error" ? "alert" : "status");
    p.textContent = message;
    box.textContent = "";
    box.appendChild(p);
  }

  // -- the live delivery log --------------------------------------------------------------
  var log = document.getElementById("ch-log");
  var liveUrl = log && log.getAttribute("data-live-url");
  var refreshLog = null;

  if (log && liveUrl && window.fetch) {
    var version = log.getAttribute("data-version");
    var interval = parseInt(log.getAttribute("data-interval"), 10) || 3000;
    var delay = interval;  // grows while the server does not answer, back on success
    var status = document.querySelector("[data-live-status]");
    var reload = document.querySelector("[data-reload]");
    var badge = document.getElementById("webhook-status");
    var timer = null;
    var inflight = null;
    var wanted = [];  // deliveries to open as soon as the log shows them

    var readingSelection = function () {
      var selection = window.getSelection();
      return selection && !selection.isCollapsed && log.contains(selection.anchorNode);
    };

    // A delivery the reader opened stays where it is on the screen: new rows may come in
    // above it (the page scrolls by their height), and once it would slide off the
    // newest page it is kept below the others, until the page is reloaded.
    var replace = function (html) {
      var known = {};
      log.querySelectorAll("details.ch-delivery").forEach(function (d) { known[d.id] = true; });
      var open = [];
      var kept = {};
      log.querySelectorAll("details.ch-delivery[open]").forEach(function (d) {
        open.push(d.id);
        kept[d.id] = d.closest("li") || d;
      });
      var anchor = open.length ? document.getElementById(open[0]) : null;
      var anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
      var focused = document.activeElement;
      var focusedRow = focused && log.contains(focused) && focused.closest("details");
      var focusedId = focusedRow && focusedRow.id;
      var focusedSummary = focused && focused.tagName === "SUMMARY";
      log.innerHTML = html;
      var list = log.querySelector("ul.ch-log-list");
      open.forEach(function (id) {
        if (list && !document.getElementById(id)) {
          kept[id].classList.add("ch-kept");
          list.appendChild(kept[id]);
        }
      });
      log.querySelectorAll("details.ch-delivery").forEach(function (d) {
        if (open.indexOf(d.id) !== -1) { d.open = true; }
        if (!known[d.id]) { d.classList.add("ch-new"); }
      });
      if (anchor) {
        var again = document.getElementById(anchor.id);
        if (again) { window.scrollBy(0, again.getBoundingClientRect().top - anchorTop); }
      }
      if (focusedId) {
        var again = document.getElementById(focusedId);
        var target = again && (focusedSummary ? again.querySelector("summary") : again);
        if (target) { target.focus({ preventScroll: true }); }
      }
      refreshTimes(log);
    };

    // Fetch the log now; openId (a delivery id) is opened once it is shown. Calls made
    // while a fetch is under way wait for it, then fetch again.
    refreshLog = function (openId) {
      if (openId) { wanted.push(openId); }
      if (inflight) { return inflight.then(function () { return refreshLog(); }); }
      inflight = window.fetch(liveUrl, {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store"
      }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      }).then(function (data) {
        if (badge && data.status_html) { badge.innerHTML = data.status_html; }
        var health = document.getElementById("health");
        if (health && data.health_html && !health.contains(document.activeElement)) {
          var card = document.createElement("template");
          card.innerHTML = data.health_html.trim();
          var next = card.content.firstElementChild;
          if (next && next.innerHTML !== health.innerHTML) {
            health.replaceWith(next);
            refreshTimes(next);
          }
        }
        if (data.version !== version && (wanted.length || !readingSelection())) {
          replace(data.html);
          version = data.version;
        }
        wanted = wanted.filter(function (id) {
          var row = document.getElementById(id);
          if (row && log.contains(row)) { row.open = true; return false; }
          return true;
        });
        delay = interval;
        if (status) { status.textContent = "Updating live"; status.classList.remove("ch-paused"); }
        if (reload) { reload.hidden = true; }
      }).catch(function () {
        delay = Math.min(delay * 2, 60000);
        if (status) { status.textContent = "Live updates paused"; status.classList.add("ch-paused"); }
        if (reload) { reload.hidden = false; }
      }).then(function () { inflight = null; });
      return inflight;
    };

    var schedule = function () {
      window.clearTimeout(timer);
      if (document.hidden) { return; }  // resumed by visibilitychange
      timer = window.setTimeout(function () { refreshLog().then(schedule); }, delay);
    };
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { refreshLog().then(schedule); }
    });
    if (reload) { reload.hidden = true; }
    if (status) { status.hidden = false; }
    schedule();
  }

  // -- Send test, without leaving the page --------------------------------------------------
  document.querySelectorAll("form[data-send-test]").forEach(function (form) {
    if (!window.fetch || !window.FormData) { return; }
    var button = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var label = button.textContent;
      button.disabled = true;
      button.textContent = "Sending…";
      window.fetch(form.action, {
        method: "POST", body: new window.FormData(form), credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/json") === -1) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      }).then(function (data) {
        flash(data.message, data.category);
        if (refreshLog) { return refreshLog(data.delivery); }
        return null;
      }).catch(function (error) {
        flash("The test event could not be sent (" + error.message + "). Reload the page and try again.", "error");
      }).then(function () {
        button.disabled = false;
        button.textContent = label;
      });
    });
  });

  // -- a "Select all" box per event group, kept in step with the group's boxes --------------
  document.querySelectorAll("[data-select-all]").forEach(function (all) {
    var group = all.closest("[data-group]");
    var boxes = group.querySelectorAll('input[name="events"]');
    function sync() {
      var checked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      all.checked = checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      sync();
    });
    boxes.forEach(function (b) { b.addEventListener("change", sync); });
    all.closest("label").hidden = false;
    sync();
  });

  // -- copy buttons: data-copy names the element whose text is copied -------------------------
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    var label = button.textContent;
    function done() {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = label; }, 2000);
    }
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(target);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try { if (document.execCommand("copy")) { done(); } } catch (e) { /* text stays selected */ }
    }
    button.addEventListener("click", function () {
      var text = target.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
    button.hidden = false;
  });

  // -- forms that ask before they submit ---------------------------------------------------------
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
