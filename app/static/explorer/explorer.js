// Enhancements of the explorer's pages, over the public JSON API: results of /v1/search as one
// types, the support buttons, and the proposal form of the map page. Without JavaScript the pages
// read the same (the search box then opens the search page).
(function () {
  "use strict";
  var root = (document.querySelector("[data-root]") || { dataset: {} }).dataset.root || "";
  var api = location.origin + root;
  var english = document.documentElement.lang === "en";

  function problemText(problem) {
    var parts = [];
    if (problem.detail) parts.push(problem.detail);
    (problem.errors || []).forEach(function (e) {
      parts.push((e.name ? e.name + (english ? ": " : "\u00a0: ") : "") + e.reason);
    });
    return parts.length ? parts : [problem.title || "Erreur"];
  }

  // --- live search -------------------------------------------------------------------------
  var box = document.getElementById("site-search");
  if (box) {
    var list = document.createElement("ul");
    list.className = "suggestions";
    list.setAttribute("aria-live", "polite");
    list.setAttribute("aria-label", english ? "Search results" : "Résultats de la recherche");
    box.form.appendChild(list);
    var timer = null, asked = "";
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = box.value.trim();
        if (q === asked) return;
        asked = q;
        if (q.length < 3) { list.replaceChildren(); return; }
        fetch(api + "/v1/search?limit=5&q=" + encodeURIComponent(q))
          .then(function (r) { return r.ok ? r.json() : { items: [] }; })
          .then(function (page) {
            if (asked !== q) return;
            list.replaceChildren.apply(list, page.items.map(function (hit) {
              var li = document.createElement("li");
              var a = document.createElement("a");
              a.href = pageOf(hit) || hit.url;
              a.textContent = hit.title;
              li.appendChild(a);
              return li;
            }));
          })
          .catch(function () { list.replaceChildren(); });
      }, 250);
    });
  }
  function pageOf(hit) {
    if (hit.dataset === "actions") return root + "/action/" + hit.key;
    if (hit.dataset === "milestones") return root + "/action/" + hit.key.replace(/-[^-]*$/, "");
    if (hit.dataset === "communes") return root + "/commune/" + hit.key;
    if (hit.dataset === "initiatives") return root + "/map#initiative-" + hit.key;
    if (["axes", "ambitions", "objectives"].indexOf(hit.dataset) >= 0) return root + "/#node-" + hit.key;
    return null;
  }

  // --- supports ------------------------------------------------------------------------------
  function supporter() {
    // An identifier kept by this browser, so that one person is counted once per initiative.
    var key = "territoire-supporter";
    var id = null;
    try { id = localStorage.getItem(key); } catch (e) { /* private mode */ }
    if (!id) {
      id = "browser-" + Array.from(crypto.getRandomValues(new Uint8Array(16)), function (b) {
        return b.toString(16).padStart(2, "0");
      }).join("");
      try { localStorage.setItem(key, id); } catch (e) { /* counted once this visit */ }
    }
    return id;
  }
  document.querySelectorAll(".support-button").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var holder = button.closest("[data-initiative]");
      button.disabled = true;
      fetch(api + "/v1/initiatives/" + holder.dataset.initiative + "/supports", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ supporter: supporter() })
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (answer) {
        var note = document.createElement("span");
        note.setAttribute("role", "status");
        if (answer.ok) {
          holder.querySelector(".count").textContent = String(answer.body.support_count);
          note.textContent = " " + button.dataset.done;
        } else {
          note.textContent = " " + problemText(answer.body).join(" ");
          button.disabled = false;
        }
        holder.appendChild(note);
      });
    });
  });

  // --- proposal --------------------------------------------------------------------------------
  var form = document.getElementById("proposal");
  if (form) {
    var outcome = document.getElementById("proposal-outcome");
    var idempotency = null;
    form.addEventListener("input", function () { idempotency = null; });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var f = form.elements;
      form.querySelectorAll("[aria-invalid]").forEach(function (e) { e.removeAttribute("aria-invalid"); });
      var body = {
        title: f.title.value,
        description: f.description.value,
        category: f.category.value,
        geometry: { type: "Point",
                    coordinates: [parseFloat(f.longitude.value), parseFloat(f.latitude.value)] },
        contact_email: f.contact_email.value
      };
      if (f.address.value) body.address = f.address.value;
      if (f.author_name.value) body.author_name = f.author_name.value;
      if (f.website.value) body.website = f.website.value;
      if (!isFinite(body.geometry.coordinates[0]) || !isFinite(body.geometry.coordinates[1])) {
        // Sent as null: the API names the geometry as the field to fix.
        body.geometry = null;
      }
      // One key per filled-in form: a retry of the same proposal is stored once.
      idempotency = idempotency || "explorer-" + Date.now() + "-" + Math.random().toString(36).slice(2);
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      fetch(api + "/v1/proposals", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": idempotency },
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (json) { return { ok: r.ok, body: json }; });
      }).then(function (answer) {
        button.disabled = false;
        outcome.replaceChildren();
        if (answer.ok) {
          var p = document.createElement("p");
          p.className = "success";
          p.textContent = outcome.dataset.sent + " ";
          var link = document.createElement("a");
          link.href = answer.body.status_url;
          link.textContent = answer.body.status_url;
          p.appendChild(link);
          outcome.appendChild(p);
          form.reset();
          idempotency = null;
        } else {
          var title = document.createElement("p");
          title.className = "error";
          title.textContent = outcome.dataset.errors;
          var ul = document.createElement("ul");
          ul.className = "error";
          problemText(answer.body).forEach(function (text) {
            var li = document.createElement("li");
            li.textContent = text;
            ul.appendChild(li);
          });
          (answer.body.errors || []).forEach(function (e) {
            var name = String(e.name || "").split(".")[0];
            var field = name === "geometry" ? f.longitude : f[name];
            if (field && field.setAttribute) field.setAttribute("aria-invalid", "true");
          });
          outcome.appendChild(title);
          outcome.appendChild(ul);
        }
        outcome.focus();
      }).catch(function () {
        button.disabled = false;
        outcome.textContent = english ? "The service did not answer; try again." :
          "Le service n'a pas répondu ; réessayez.";
      });
    });
  }
})();
