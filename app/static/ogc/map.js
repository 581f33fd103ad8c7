// A small, dependency-free map: draws the GeoJSON embedded in the page as SVG, fitted to its
// bounds (Web Mercator, so that shapes look as on any web map). No tiles, no network.
(function () {
  "use strict";
  var source = document.getElementById("features");
  var holder = document.getElementById("map");
  if (!source || !holder) return;
  var data = JSON.parse(source.textContent);
  var features = data.type === "FeatureCollection" ? data.features : [data];
  var SVG = "http://www.w3.org/2000/svg";
  var width = holder.clientWidth || 800, height = 420;

  function mercator(lon, lat) {
    var y = Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
    return [(lon * Math.PI) / 180, y];
  }
  function eachPosition(geometry, visit) {
    if (!geometry) return;
    if (geometry.type === "GeometryCollection") {
      geometry.geometries.forEach(function (g) { eachPosition(g, visit); });
      return;
    }
    (function walk(c) {
      if (typeof c[0] === "number") visit(c);
      else c.forEach(walk);
    })(geometry.coordinates);
  }
  var box = [Infinity, Infinity, -Infinity, -Infinity];
  features.forEach(function (f) {
    eachPosition(f.geometry, function (p) {
      var m = mercator(p[0], p[1]);
      box[0] = Math.min(box[0], m[0]); box[1] = Math.min(box[1], m[1]);
      box[2] = Math.max(box[2], m[0]); box[3] = Math.max(box[3], m[1]);
    });
  });
  if (!isFinite(box[0])) { holder.textContent = "No geometry to show."; return; }
  var pad = 16;
  var spanX = Math.max(box[2] - box[0], 1e-9), spanY = Math.max(box[3] - box[1], 1e-9);
  var scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad) / spanY);
  function project(p) {
    var m = mercator(p[0], p[1]);
    var x = pad + (m[0] - box[0]) * scale + (width - 2 * pad - spanX * scale) / 2;
    var y = height - pad - (m[1] - box[1]) * scale - (height - 2 * pad - spanY * scale) / 2;
    return x.toFixed(1) + " " + y.toFixed(1);
  }
  function ring(r) { return "M" + r.map(project).join("L") + "Z"; }
  function line(l) { return "M" + l.map(project).join("L"); }
  function paths(g) {
    switch (g.type) {
      case "Point": return [["point", g.coordinates]];
      case "MultiPoint": return g.coordinates.map(function (c) { return ["point", c]; });
      case "LineString": return [["line", line(g.coordinates)]];
      case "MultiLineString": return g.coordinates.map(function (c) { return ["line", line(c)]; });
      case "Polygon": return [["area", g.coordinates.map(ring).join("")]];
      case "MultiPolygon": return [["area", g.coordinates.map(function (p) { return p.map(ring).join(""); }).join("")]];
      case "GeometryCollection": return [].concat.apply([], g.geometries.map(paths));
      default: return [];
    }
  }
  var svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("width", "100%");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", features.length + " feature(s) on a map");
  features.forEach(function (f) {
    if (!f.geometry) return;
    var label = (f.properties && (f.properties.title || f.properties.name)) || String(f.id);
    paths(f.geometry).forEach(function (part) {
      var node;
      if (part[0] === "point") {
        var xy = project(part[1]).split(" ");
        node = document.createElementNS(SVG, "circle");
        node.setAttribute("cx", xy[0]); node.setAttribute("cy", xy[1]); node.setAttribute("r", 5);
        node.setAttribute("class", "feature point");
      } else {
        node = document.createElementNS(SVG, "path");
        node.setAttribute("d", part[1]);
        node.setAttribute("class", "feature " + part[0]);
      }
      var title = document.createElementNS(SVG, "title");
      title.textContent = label;
      node.appendChild(title);
      node.setAttribute("data-id", String(f.id));
      svg.appendChild(node);
    });
  });
  holder.appendChild(svg);
})();
