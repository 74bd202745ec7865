/* The config page's charts: the stop-loss curve and the take-profit ladder, redrawn from the
   form as values change. The built-in modes' curves and ladders come from the server
   (data-presets), computed by the same rules the engine runs; custom levels are read from the
   form. No inline script: the page's CSP allows scripts from 'self' only. */
(function () {
  "use strict";

  var form = document.getElementById("config-form");
  var presetsNode = document.getElementById("config-presets");
  if (!form || !presetsNode) return;
  // Exact decimal strings from the server; plain numbers are enough to draw them.
  function numbers(pairs) { return pairs.map(function (pair) { return pair.map(Number); }); }
  var raw = JSON.parse(presetsNode.getAttribute("data-presets"));
  var presets = { curves: {}, ladders: {} };
  Object.keys(raw.curves).forEach(function (mode) { presets.curves[mode] = numbers(raw.curves[mode]); });
  Object.keys(raw.ladders).forEach(function (mode) {
    presets.ladders[mode] = {
      levels: numbers(raw.ladders[mode].levels),
      moon_bag: raw.ladders[mode].moon_bag.map(Number)
    };
  });

  function input(name) { return form.elements.namedItem(name); }
  function value(name) { var el = input(name); return el ? el.value : ""; }
  function checked(name) { var el = input(name); return !!(el && el.checked); }
  function number(text, fallback) {
    var n = parseFloat(text);
    return isFinite(n) ? n : fallback;
  }
  function rows(name) {
    return value(name).split("\n").map(function (line) {
      return line.split(/[,;\s]+/).filter(Boolean).map(Number);
    }).filter(function (row) { return row.length >= 2 && isFinite(row[0]) && isFinite(row[1]); });
  }

  function colour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  }

  /* A chart box: scales for x in [0, xMax] and y in [yMin, yMax], axes with a few labels. */
  function frame(canvas, xMax, yMin, yMax, xLabel) {
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth || canvas.width;
    var height = canvas.clientHeight || canvas.height;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    var pad = { left: 44, right: 10, top: 10, bottom: 26 };
    var box = {
      ctx: ctx,
      x: function (v) { return pad.left + (v / xMax) * (width - pad.left - pad.right); },
      y: function (v) { return height - pad.bottom - ((v - yMin) / (yMax - yMin)) * (height - pad.top - pad.bottom); }
    };
    ctx.strokeStyle = colour("--border");
    ctx.fillStyle = colour("--muted");
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(pad.left, pad.top);
    ctx.lineTo(pad.left, height - pad.bottom);
    ctx.lineTo(width - pad.right, height - pad.bottom);
    ctx.stroke();
    for (var i = 0; i <= 4; i++) {
      var yv = yMin + ((yMax - yMin) * i) / 4;
      ctx.fillText(Math.round(yv) + "%", 4, box.y(yv) + 4);
      var xv = (xMax * i) / 4;
      ctx.fillText(Math.round(xv) + "%", box.x(xv) - 10, height - 8);
    }
    ctx.fillText(xLabel, width - pad.right - ctx.measureText(xLabel).width, height - 8);
    return box;
  }

  function stopAt(mode, peak, fallback, levels) {
    if (mode === "custom") {
      var best = null;
      levels.forEach(function (lv) { if (lv[0] <= peak && (best === null || lv[0] > best[0])) best = lv; });
      return best === null ? fallback : best[1];
    }
    var curve = presets.curves[mode] || [];
    var point = curve[Math.min(curve.length - 1, Math.round(peak / 5))];
    return point && point[1] > 0 ? point[1] : fallback;
  }

  function drawStopLoss() {
    var canvas = document.getElementById("stop-loss-chart");
    if (!canvas) return;
    var mode = value("stop_loss.mode");
    var fallback = number(value("stop_loss.default_percentage"), -32);
    var levels = rows("stop_loss.trailing_levels");
    var xMax = 500;
    levels.forEach(function (lv) { xMax = Math.max(xMax, lv[0] * 1.2); });
    var points = [];
    for (var peak = 0; peak <= xMax; peak += xMax / 100) {
      points.push([peak, stopAt(mode, peak, fallback, levels)]);
    }
    var ys = points.map(function (p) { return p[1]; });
    var box = frame(canvas, xMax, Math.min(-100, Math.min.apply(null, ys)), Math.max(10, Math.max.apply(null, ys)), "peak gain");
    var ctx = box.ctx;
    ctx.strokeStyle = checked("stop_loss.enabled") ? colour("--neg") : colour("--muted");
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach(function (p, i) { (i ? ctx.lineTo : ctx.moveTo).call(ctx, box.x(p[0]), box.y(p[1])); });
    ctx.stroke();
    ctx.fillStyle = colour("--muted");
    ctx.fillText("stop vs. buy price (" + mode + ")", box.x(0) + 6, 20);
  }

  function drawTakeProfit() {
    var canvas = document.getElementById("take-profit-chart");
    if (!canvas) return;
    var mode = value("take_profit.mode");
    var levels, bag;
    if (mode === "custom") {
      levels = rows("take_profit.levels");
      bag = [number(value("take_profit.moon_bag.trigger_percent"), 300), number(value("take_profit.moon_bag.retain_percent"), 10)];
    } else {
      var preset = presets.ladders[mode] || { levels: [], moon_bag: [0, 0] };
      levels = preset.levels;
      bag = preset.moon_bag;
    }
    var bagOn = checked("take_profit.moon_bag.enabled");
    var xMax = 100;
    levels.forEach(function (lv) { xMax = Math.max(xMax, lv[0] * 1.2); });
    if (bagOn) xMax = Math.max(xMax, bag[0] * 1.2);
    var box = frame(canvas, xMax, 0, 100, "gain");
    var ctx = box.ctx;
    ctx.strokeStyle = checked("take_profit.enabled") ? colour("--pos") : colour("--muted");
    ctx.lineWidth = 2;
    ctx.beginPath();
    var sold = 0;
    ctx.moveTo(box.x(0), box.y(0));
    levels.slice().sort(function (a, b) { return a[0] - b[0]; }).forEach(function (lv) {
      ctx.lineTo(box.x(lv[0]), box.y(Math.min(100, sold)));
      sold += lv[1];
      ctx.lineTo(box.x(lv[0]), box.y(Math.min(100, sold)));
    });
    ctx.lineTo(box.x(xMax), box.y(Math.min(100, sold)));
    ctx.stroke();
    if (bagOn) {
      ctx.strokeStyle = colour("--warn");
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(box.x(bag[0]), box.y(0));
      ctx.lineTo(box.x(bag[0]), box.y(100));
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = colour("--warn");
      ctx.fillText("moon bag keeps " + bag[1] + "%", box.x(bag[0]) + 4, 34);
    }
    ctx.fillStyle = colour("--muted");
    ctx.fillText("share sold (" + mode + ")", box.x(0) + 6, 20);
  }

  function redraw() { drawStopLoss(); drawTakeProfit(); }
  form.addEventListener("input", redraw);
  form.addEventListener("change", redraw);
  window.addEventListener("resize", redraw);
  redraw();
})();
