// Small progressive enhancements; every feature works without JavaScript.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("theme"); } catch (e) { /* storage blocked */ }
  if (saved) root.setAttribute("data-theme", saved);

  function csrf(form) {
    var field = form.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".theme-toggle").forEach(function (toggle) {
      toggle.addEventListener("click", function () {
        var dark = root.getAttribute("data-theme") === "dark" ||
          (!root.getAttribute("data-theme") && window.matchMedia("(prefers-color-scheme: dark)").matches);
        var next = dark ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { localStorage.setItem("theme", next); } catch (e) { /* storage blocked */ }
      });
    });

    // Close an open menu (site menu, a card's Save menu) when clicking elsewhere.
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.site-menu[open], details.save-menu[open]").forEach(function (d) {
        if (!d.contains(event.target)) d.removeAttribute("open");
      });
    });

    // The demo banner's "Dismiss" posts a form; without a reload when scripts run.
    var banner = document.querySelector(".demo-banner form");
    if (banner) {
      banner.addEventListener("submit", function (event) {
        event.preventDefault();
        fetch(banner.action, {
          method: "POST",
          headers: { "X-CSRF-Token": csrf(banner), "Accept": "application/json" },
          credentials: "same-origin"
        }).then(function (r) {
          if (!r.ok) throw new Error(r.status);
          banner.closest(".demo-banner").remove();
        }).catch(function () { banner.submit(); });
      });
    }

    // Upvote without a page reload; the form still works as a plain POST.
    document.querySelectorAll("form.vote-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = form.querySelector("button");
        button.disabled = true;
        fetch(form.action, {
          method: "POST",
          headers: { "X-CSRF-Token": csrf(form), "Accept": "application/json" },
          credentials: "same-origin"
        }).then(function (r) {
          if (!r.ok) throw new Error(r.status);
          return r.json();
        }).then(function (data) {
          button.classList.toggle("on", data.voted);
          button.setAttribute("aria-pressed", data.voted ? "true" : "false");
          var count = form.parentNode.querySelector(".count");
          if (count) count.textContent = data.total_upvotes;
          var total = document.querySelector(".total-votes");
          if (total && document.querySelector(".paper-page")) {
            total.textContent = data.total_upvotes;
            var local = document.querySelector(".local-votes");
            if (local) local.textContent = data.upvotes;
          }
        }).catch(function () { form.submit(); })
          .finally(function () { button.disabled = false; });
      });
    });

    // Similar papers come in a second request, so the paper itself shows at once.
    var similar = document.querySelector("section.similar[data-similar-url]");
    if (similar) {
      fetch(similar.getAttribute("data-similar-url"), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          var placeholder = similar.querySelector(".similar-placeholder");
          var holder = document.createElement("div");
          holder.innerHTML = html;  // server-rendered, escaped fragment from our own origin
          if (placeholder) placeholder.replaceWith(holder.firstElementChild || holder);
        })
        .catch(function () { /* the link to the similar page stays */ });
    }

    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) return;
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.textContent = "Copied";
        });
      });
    });
  });
})();
