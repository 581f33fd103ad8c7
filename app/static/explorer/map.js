// The map of the explorer and of the small map widget: MapLibre GL JS (served by the service)
// over the service's own vector tiles of communes and initiatives, and the located actions as
// GeoJSON. Initiatives are styled from the tiles' id, title, category and status only. On the
// explorer's map a click places the point of a proposal (see propose()).
(function () {
  "use strict";
  var holder = document.getElementById("map");
  if (!holder || !window.maplibregl) return;
  var data = holder.dataset;
  var root = location.origin + (data.root || "");
  var PALETTE = ["#1f5fa8", "#b3261e", "#1e7d32", "#8a4b08", "#6a1b9a", "#00695c"];
  var STATUS = {
    planned: "#5c6bc0", in_progress: "#1f5fa8", done: "#1e7d32", paused: "#8a4b08",
    abandoned: "#616161", blocked: "#b3261e", late: "#c2410c", to_discuss: "#6a1b9a"
  };
  var category = ["match", ["to-string", ["get", "category"]]];
  for (var code = 1; code <= 12; code++) category.push(String(code), PALETTE[(code - 1) % 6]);
  category.push("#424242");
  var status = ["match", ["to-string", ["get", "status"]]];
  Object.keys(STATUS).forEach(function (key) { status.push(key, STATUS[key]); });
  status.push("#424242");

  function tiles(collection) {
    return [root + "/ogc/collections/" + collection + "/tiles/WebMercatorQuad/{z}/{y}/{x}"];
  }
  var axisFilter = data.axis ? ["==", ["to-string", ["get", "category"]], data.axis] : true;
  var statusFilter = data.status ? ["==", ["get", "status"], data.status] : true;
  function kind(type, extra) {
    return ["all", ["==", ["geometry-type"], type], extra];
  }
  var style = {
    version: 8,
    sources: {
      communes: { type: "vector", tiles: tiles("communes"), minzoom: 0, maxzoom: 14 },
      initiatives: { type: "vector", tiles: tiles("initiatives"), minzoom: 0, maxzoom: 14 }
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#f4f1ea" } },
      { id: "communes-fill", type: "fill", source: "communes", "source-layer": "communes",
        paint: { "fill-color": "#ffffff", "fill-opacity": 0.8 } },
      { id: "communes-chosen", type: "fill", source: "communes", "source-layer": "communes",
        filter: ["==", ["get", "insee"], data.commune || "-"],
        paint: { "fill-color": "#ffe082", "fill-opacity": 0.7 } },
      { id: "communes-line", type: "line", source: "communes", "source-layer": "communes",
        paint: { "line-color": "#5f6b7a", "line-width": 1 } },
      { id: "initiatives-area", type: "fill", source: "initiatives", "source-layer": "initiatives",
        filter: kind("Polygon", axisFilter), paint: { "fill-color": category, "fill-opacity": 0.35 } },
      { id: "initiatives-line", type: "line", source: "initiatives", "source-layer": "initiatives",
        filter: kind("LineString", axisFilter), paint: { "line-color": category, "line-width": 3 } },
      { id: "initiatives-point", type: "circle", source: "initiatives", "source-layer": "initiatives",
        filter: kind("Point", axisFilter),
        paint: { "circle-color": category, "circle-radius": 6, "circle-stroke-color": "#ffffff",
                 "circle-stroke-width": 1.5 } }
    ]
  };
  if (data.propose) {
    style.sources.actions = { type: "geojson",
      data: root + "/ogc/collections/actions/items?limit=1000" };
    style.layers.splice(4, 0,
      { id: "actions-line", type: "line", source: "actions",
        filter: ["all", ["!=", ["geometry-type"], "Point"], statusFilter],
        paint: { "line-color": status, "line-width": 2, "line-dasharray": [2, 1] } },
      { id: "actions-point", type: "circle", source: "actions",
        filter: ["all", ["==", ["geometry-type"], "Point"], statusFilter],
        paint: { "circle-color": status, "circle-radius": 5, "circle-stroke-color": "#000000",
                 "circle-stroke-width": 1 } });
  }
  var box = (data.bbox || "").split(",").map(Number);
  var options = { container: holder, style: style, attributionControl: false,
                  cooperativeGestures: false };
  if (box.length === 4 && box.every(isFinite)) options.bounds = [[box[0], box[1]], [box[2], box[3]]];
  // No commune loaded yet: the whole world, rather than some place written in the code.
  else { options.center = [0, 0]; options.zoom = 0; }
  options.fitBoundsOptions = { padding: 12 };
  var map = new maplibregl.Map(options);
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  holder.territoireMap = map;

  if (data.commune) {
    fetch(root + "/v1/communes/" + encodeURIComponent(data.commune))
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (feature) {
        if (!feature || !feature.geometry) return;
        var b = [Infinity, Infinity, -Infinity, -Infinity];
        (function walk(c) {
          if (typeof c[0] === "number") {
            b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]);
            b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]);
          } else c.forEach(walk);
        })(feature.geometry.coordinates);
        map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 12, duration: 0 });
      })
      .catch(function () { /* the territory's view stays */ })
      .then(function () { map.once("idle", settled); });
  } else {
    map.once("idle", settled);
  }
  function settled() {
    // The initial view is final and drawn (for screenshots that are the same on every run).
    holder.dataset.settled = "";
  }

  var INTERACTIVE = ["initiatives-point", "initiatives-line", "initiatives-area"];
  map.once("idle", function () {
    if (window.performance && performance.mark) performance.mark("territoire-map-drawn");
  });
  map.on("idle", function () {
    // What is drawn, for the page's tests and for assistive text: counts of rendered features.
    var drawn = map.queryRenderedFeatures({ layers: INTERACTIVE });
    var communes = map.queryRenderedFeatures({ layers: ["communes-fill"] });
    holder.dataset.initiatives = String(drawn.length);
    holder.dataset.communes = String(communes.length);
  });
  map.on("click", function (event) {
    var hit = map.queryRenderedFeatures(event.point, { layers: INTERACTIVE })[0];
    if (hit) {
      var item = document.getElementById("initiative-" + hit.id);
      var body = document.createElement("div");
      var title = document.createElement("strong");
      title.textContent = hit.properties.title || "";
      body.appendChild(title);
      if (item) {
        var link = document.createElement("a");
        link.href = "#initiative-" + hit.id;
        link.textContent = " →";
        link.setAttribute("aria-label", title.textContent);
        body.appendChild(link);
      }
      new maplibregl.Popup().setLngLat(event.lngLat).setDOMContent(body).addTo(map);
      return;
    }
    if (data.propose) place(event.lngLat.lng, event.lngLat.lat);
  });
  INTERACTIVE.forEach(function (layer) {
    map.on("mouseenter", layer, function () { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, function () { map.getCanvas().style.cursor = ""; });
  });

  var marker = null;
  var lonInput = document.getElementById("p-longitude");
  var latInput = document.getElementById("p-latitude");
  function place(lon, lat) {
    if (!lonInput || !latInput) return;
    lonInput.value = lon.toFixed(6);
    latInput.value = lat.toFixed(6);
    show(lon, lat);
  }
  function show(lon, lat) {
    if (!marker) marker = new maplibregl.Marker({ color: "#b3261e" });
    marker.setLngLat([lon, lat]).addTo(map);
  }
  function typed() {
    var lon = parseFloat(lonInput.value), lat = parseFloat(latInput.value);
    if (isFinite(lon) && isFinite(lat) && Math.abs(lon) <= 180 && Math.abs(lat) <= 90) show(lon, lat);
  }
  if (lonInput && latInput) {
    lonInput.addEventListener("change", typed);
    latInput.addEventListener("change", typed);
  }
})();
