// "Not interested" without a reload: the card hides at once and an "Undo" takes its place.
// Without scripts (or when the request fails) the form posts and redirects back as before.
(function () {
  "use strict";

  function field(name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }

  // A form like the server renders (papers/_not_interested.html), built for a card's id.
  function dismissForm(undo, csrf, paperId) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = undo ? "/for-you/not-interested/undo" : "/for-you/not-interested";
    form.className = "inline " + (undo ? "not-interested-undo" : "not-interested-form");
    form.appendChild(field("csrf_token", csrf));
    form.appendChild(field("paper_id", paperId));
    var button = document.createElement("button");
    button.type = "submit";
    button.className = undo ? "link" : "link not-interested";
    button.textContent = undo ? "Undo" : "Not interested";
    form.appendChild(button);
    return form;
  }

  function hide(card, csrf, paperId) {
    var title = card.querySelector(".paper-title a");
    var note = document.createElement("div");
    note.className = "dismissed-note";
    note.setAttribute("role", "status");
    note.setAttribute("data-paper-id", paperId);
    note.appendChild(document.createTextNode(
      "Hidden" + (title ? ": " + title.textContent : "") + ". You will see fewer papers like it. "));
    note.appendChild(dismissForm(true, csrf, paperId));
    card.hidden = true;
    card.after(note);
    note.querySelector("button").focus();
  }

  function restore(form, csrf, paperId) {
    var note = form.closest(".dismissed-note");
    if (note) {
      var card = note.previousElementSibling;
      note.remove();
      if (card) card.hidden = false;
    } else {
      form.replaceWith(dismissForm(false, csrf, paperId));  // a card marked before this page
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var undo = form.matches("form.not-interested-undo");
    if (!undo && !form.matches("form.not-interested-form")) return;
    event.preventDefault();
    var csrf = form.querySelector("input[name=csrf_token]").value;
    var paperId = form.querySelector("input[name=paper_id]").value;
    fetch(form.action, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: new FormData(form),
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      var card = form.closest(".paper-card");
      if (undo) restore(form, csrf, paperId);
      else if (card) hide(card, csrf, paperId);
      else form.replaceWith(dismissForm(true, csrf, paperId));
    }).catch(function () { form.submit(); });
  });
})();
