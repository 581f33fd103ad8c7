// Web components of the Territoire API, for other websites:
//   <territoire-plan></territoire-plan>            the plan's progress
//   <territoire-action code="2.1.1.1"></territoire-action>
//   <territoire-commune insee="INSEE code"></territoire-commune>
//   <territoire-map axis="3" commune="INSEE code"></territoire-map>   (a frame of /widgets/map)
// Each reads the public JSON API of the service this script comes from (CORS is open to reads;
// the browser's cache revalidates with the API's ETags). `lang="en"` for English.
(function () {
  "use strict";
  var script = document.currentScript;
  var BASE = script ? new URL(script.src).href.replace(/\/assets\/explorer\/widgets\.js.*$/, "") : "";
  var CSS = ":host{display:block;font:15px/1.4 system-ui,sans-serif;color:#1b1f24;max-width:24em}" +
    ".card{border:1px solid #c9ced6;border-radius:6px;padding:.6em .9em;background:#fff}" +
    "h2{font-size:1.05rem;margin:.2em 0}.muted{color:#4a5260}.big{font-size:1.8rem;font-weight:700;margin:.1em 0}" +
    ".bar{height:.7em;background:#dde3ea;border:1px solid #7a8594;border-radius:4px;overflow:hidden}" +
    ".bar>span{display:block;height:100%;background:#1f5fa8}a{color:#1f4f8f}ul{padding-left:1.1em;margin:.4em 0}";
  var WORDS = {
    fr: { plan: "Avancement du plan", actions: "actions", more: "Voir le détail", error: "Données indisponibles",
          budget: "Budget prévu", colon: "\u00a0: ", none: "pas de donnée", map: "Carte des initiatives" },
    en: { plan: "The plan's progress", actions: "actions", more: "See the details", error: "Data unavailable",
          budget: "Planned budget", colon: ": ", none: "no data", map: "Map of the initiatives" }
  };
  var STATUS_EN = { planned: "Planned", in_progress: "In progress", done: "Done", paused: "Paused",
    abandoned: "Abandoned", blocked: "Blocked", late: "Late", to_discuss: "To discuss" };

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text != null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function percent(value, words) { return value == null ? words.none : Math.round(value) + "\u00a0%"; }
  function bar(value) {
    var outer = el("div", null, "bar"), inner = el("span");
    outer.setAttribute("aria-hidden", "true");
    inner.style.width = (value || 0) + "%";
    outer.appendChild(inner);
    return outer;
  }
  function getJSON(path) {
    return fetch(BASE + path, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    });
  }

  function define(name, render) {
    if (customElements.get(name)) return;
    customElements.define(name, class extends HTMLElement {
      connectedCallback() {
        if (this.shadowRoot) return;
        var shadow = this.attachShadow({ mode: "open" });
        var style = el("style", CSS);
        var card = el("article", null, "card");
        shadow.append(style, card);
        var lang = (this.getAttribute("lang") || document.documentElement.lang || "fr").slice(0, 2);
        var words = WORDS[lang === "en" ? "en" : "fr"];
        var self = this;
        Promise.resolve(render(this, card, words, lang === "en")).then(function () {
          self.setAttribute("data-ready", "");
        }).catch(function () {
          card.replaceChildren(el("p", words.error));
          self.setAttribute("data-ready", "error");
        });
      }
    });
  }
  function more(card, words, path) {
    var p = el("p"), a = el("a", words.more);
    a.href = BASE + path;
    p.appendChild(a);
    card.appendChild(p);
  }

  define("territoire-plan", function (host, card, words) {
    return getJSON("/v1/territory").then(function (t) {
      card.append(el("h2", words.plan), el("p", t.name, "muted"),
                  el("p", percent(t.progress.value, words), "big"), bar(t.progress.value));
      more(card, words, "/");
    });
  });
  define("territoire-action", function (host, card, words, english) {
    var code = host.getAttribute("code") || "";
    if (!/^[0-9]+(\.[0-9]+){3}$/.test(code)) return Promise.reject(new Error("code"));
    return getJSON("/v1/actions/" + code).then(function (a) {
      var status = a.status ? (english ? STATUS_EN[a.status] : a.status_label_fr) : "—";
      card.append(el("h2", a.code + " " + a.title), el("p", status, "muted"),
                  el("p", percent(a.progress.value, words), "big"), bar(a.progress.value),
                  el("p", words.budget + words.colon + Math.round(a.budget.planned.total).toLocaleString(english ? "en" : "fr") + " €"));
      more(card, words, "/action/" + a.code);
    });
  });
  define("territoire-commune", function (host, card, words) {
    var insee = host.getAttribute("insee") || "";
    if (!/^([0-9]{2}|2A|2B)[0-9]{3}$/.test(insee)) return Promise.reject(new Error("insee"));
    return getJSON("/v1/communes/" + insee).then(function (c) {
      var p = c.properties;
      card.append(el("h2", p.name), el("p", String(p.action_count) + " " + words.actions, "big"));
      more(card, words, "/commune/" + p.insee);
    });
  });
  define("territoire-map", function (host, card, words) {
    var query = [];
    ["axis", "commune", "lang"].forEach(function (name) {
      var value = host.getAttribute(name);
      if (value) query.push(name + "=" + encodeURIComponent(value));
    });
    var frame = el("iframe");
    frame.src = BASE + "/widgets/map" + (query.length ? "?" + query.join("&") : "");
    frame.title = host.getAttribute("title") || words.map;
    frame.style.cssText = "border:0;width:100%;height:" + (host.getAttribute("height") || "300") + "px";
    card.style.padding = "0";
    card.appendChild(frame);
  });
})();
