// The deep-zoom slide viewer: OpenSeadragon (bundled, BSD-3-Clause, see LICENSE-openseadragon.txt)
// inside a Streamlit components-v1 iframe, spoken to with the components protocol by hand
// (postMessage: componentReady → render(args) → setComponentValue / setFrameHeight).
//
// args: slide (DZI URL of the slide), layers ([{name, url, opacity, visible}], DZI URLs of overlays with
// the slide's own geometry), height (px). The value sent back on a click (not a drag) is
// {x, y, seq}: the level-0 pixel under the pointer and a click counter.
// Names from the cohort (layer names) are written with textContent only, never as HTML.
(function () {
  "use strict";

  var viewer = null;
  var slideUrl = null;
  var items = {};       // layer name -> {url, item, opacity, visible}
  var userState = {};   // layer name -> {opacity, visible} once the user changed them here
  var seq = 0;
  var latest = { layers: [] }; // the last args received (layers are synced once the slide is open)
  var tilesLoaded = {}; // DZ level -> tiles of the slide drawn (read by the tests)
  window.__viewerState = {
    tilesLoaded: tilesLoaded, ready: false, failed: 0,
    // the shown opacity of layer `name` (0 when switched off), null until its tiles source is open (read by the tests)
    opacity: function (name) { var e = items[name]; return e && e.item ? e.item.getOpacity() : null; }
  };

  function send(type, data) {
    var msg = { isStreamlitMessage: true, type: type };
    for (var k in data) { msg[k] = data[k]; }
    window.parent.postMessage(msg, "*");
  }

  function status(text) { document.getElementById("status").textContent = text || ""; }

  function effectiveOpacity(entry) { return entry.visible ? entry.opacity : 0; }

  function addLayer(layer, index) {
    var entry = { url: layer.url, item: null, opacity: layer.opacity, visible: layer.visible };
    var kept = userState[layer.name];
    if (kept) { entry.opacity = kept.opacity; entry.visible = kept.visible; }
    items[layer.name] = entry;
    viewer.addTiledImage({
      tileSource: layer.url, x: 0, y: 0, width: 1, index: index, opacity: effectiveOpacity(entry),
      crossOriginPolicy: "Anonymous",
      success: function (ev) {
        if (items[layer.name] === entry) { entry.item = ev.item; entry.item.setOpacity(effectiveOpacity(entry)); }
        else { viewer.world.removeItem(ev.item); }
      },
      error: function () { status("overlay '" + layer.name + "' could not be loaded"); }
    });
  }

  function removeLayer(name) {
    var entry = items[name];
    if (entry && entry.item) { viewer.world.removeItem(entry.item); }
    delete items[name];
  }

  function panelRow(name, entry) {
    var row = document.createElement("div");
    row.className = "row";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.checked = entry.visible;
    box.id = "layer-" + Object.keys(items).indexOf(name);
    box.setAttribute("data-layer", name);
    var label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = name;
    var range = document.createElement("input");
    range.type = "range"; range.min = "0"; range.max = "1"; range.step = "0.05";
    range.value = String(entry.opacity);
    range.setAttribute("data-layer", name);
    range.title = "opacity";
    function apply() {
      entry.visible = box.checked;
      entry.opacity = parseFloat(range.value);
      userState[name] = { opacity: entry.opacity, visible: entry.visible };
      if (entry.item) { entry.item.setOpacity(effectiveOpacity(entry)); }
    }
    box.addEventListener("change", apply);
    range.addEventListener("input", apply);
    row.appendChild(box); row.appendChild(label); row.appendChild(range);
    return row;
  }

  function drawPanel() {
    var panel = document.getElementById("panel");
    while (panel.firstChild) { panel.removeChild(panel.firstChild); }
    Object.keys(items).forEach(function (name) { panel.appendChild(panelRow(name, items[name])); });
  }

  function syncLayers(layers) {
    var wanted = {};
    layers.forEach(function (l) { wanted[l.name] = l; });
    Object.keys(items).forEach(function (name) {
      if (!wanted[name] || wanted[name].url !== items[name].url) { removeLayer(name); }
    });
    layers.forEach(function (l, i) {
      if (!items[l.name]) { addLayer(l, i + 1); }
    });
    drawPanel();
  }

  function create(args) {
    viewer = OpenSeadragon({
      element: document.getElementById("osd"),
      prefixUrl: "images/",
      tileSources: args.slide,
      crossOriginPolicy: "Anonymous",
      drawer: "canvas",
      showNavigator: true,
      navigatorPosition: "BOTTOM_RIGHT",
      showRotationControl: false,
      maxZoomPixelRatio: 2,
      imageLoaderLimit: 6,
      timeout: 60000,
      gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
      gestureSettingsTouch: { clickToZoom: false }
    });
    window.__viewer = viewer;
    viewer.addHandler("open", function () { window.__viewerState.ready = true; status(""); syncLayers(latest.layers || []); });
    viewer.addHandler("open-failed", function () { status("the slide could not be opened"); });
    viewer.addHandler("tile-loaded", function (ev) {
      if (ev.tiledImage === viewer.world.getItemAt(0)) {
        tilesLoaded[ev.tile.level] = (tilesLoaded[ev.tile.level] || 0) + 1;
      }
    });
    viewer.addHandler("tile-load-failed", function () { window.__viewerState.failed += 1; });
    viewer.addHandler("canvas-click", function (ev) {
      if (!ev.quick) { return; }          // a drag (pan), not a click
      var base = viewer.world.getItemAt(0);
      if (!base) { return; }
      var p = base.viewerElementToImageCoordinates(ev.position);
      seq += 1;
      send("streamlit:setComponentValue", { value: { x: p.x, y: p.y, seq: seq }, dataType: "json" });
    });
  }

  function render(args) {
    latest = args;
    var h = Math.max(200, args.height || 600);
    document.getElementById("osd").style.height = h + "px";
    send("streamlit:setFrameHeight", { height: h + 2 });
    if (!viewer) {
      slideUrl = args.slide;
      create(args);
      return;
    }
    if (args.slide !== slideUrl) {          // another slide: open it, layers follow on "open"
      slideUrl = args.slide;
      Object.keys(items).forEach(removeLayer);
      window.__viewerState.ready = false;
      viewer.open(args.slide);
      return;
    }
    if (window.__viewerState.ready) { syncLayers(args.layers || []); }   // else: on "open"
  }

  window.addEventListener("message", function (ev) {
    if (ev.source !== window.parent || !ev.data || ev.data.type !== "streamlit:render") { return; }
    render(ev.data.args || {});
  });
  send("streamlit:componentReady", { apiVersion: 1 });
})();
