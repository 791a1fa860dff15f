// Draws the paths written by tinygrad_edu/optimizer_page.py: the selected run's
// path on the surface up to step t, and its σᵗ, mᵗ and ηᵗ under it.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const surfaceNames = Object.keys(data.surfaces);
  const optimizerNames = Object.keys(data.optimizers);
  const T = data.steps;
  const runLength = 2 * (T + 1) + T + 2 * T + 2 * T;

  function floats(text) {  // base64 little-endian float32 -> Float32Array
    const bytes = Uint8Array.from(atob(text), function (c) { return c.charCodeAt(0); });
    return new Float32Array(bytes.buffer);
  }
  const paths = floats(data.paths);
  const grids = {};
  for (const name of surfaceNames) grids[name] = floats(data.surfaces[name].grid);

  const state = { surface: surfaceNames[0], optimizer: "Adam", schedule: "constant", lr: 6, step: T };

  function run() {  // the selected run's θ, η, σ and m
    const index = ((surfaceNames.indexOf(state.surface) * optimizerNames.length
      + optimizerNames.indexOf(state.optimizer)) * data.schedules.length
      + data.schedules.indexOf(state.schedule)) * data.learningRates.length + state.lr;
    const at = index * runLength;
    const theta = paths.subarray(at, at + 2 * (T + 1));
    const eta = paths.subarray(at + 2 * (T + 1), at + 2 * (T + 1) + T);
    const sigma = paths.subarray(at + 3 * T + 2, at + 5 * T + 2);
    const m = paths.subarray(at + 5 * T + 2, at + 7 * T + 2);
    return { theta: theta, eta: eta, sigma: sigma, m: m };
  }

  // ---- drawing
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function colour(u) {
    u = Math.max(0, Math.min(1, u)) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(u), VIRIDIS.length - 2), f = u - i;
    return VIRIDIS[i].map(function (c, k) { return Math.round(c + f * (VIRIDIS[i + 1][k] - c)); });
  }

  function drawSurface(r) {
    const canvas = document.getElementById("surface"), ctx = canvas.getContext("2d");
    const s = data.surfaces[state.surface], n = data.resolution, grid = grids[state.surface];
    let low = Infinity, high = -Infinity;
    for (const v of grid) { low = Math.min(low, v); high = Math.max(high, v); }
    const image = ctx.createImageData(n, n);
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        const rgb = colour((grid[row * n + col] - low) / (high - low));
        const at = 4 * ((n - 1 - row) * n + col);  // row 0 is the lowest y: drawn at the bottom
        image.data.set([rgb[0], rgb[1], rgb[2], 255], at);
      }
    }
    const small = document.createElement("canvas");
    small.width = small.height = n;
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    const X = function (x) { return (x - s.xlim[0]) / (s.xlim[1] - s.xlim[0]) * canvas.width; };
    const Y = function (y) { return canvas.height - (y - s.ylim[0]) / (s.ylim[1] - s.ylim[0]) * canvas.height; };
    ctx.fillStyle = "white";
    ctx.font = "13px Helvetica, Arial, sans-serif";
    ctx.fillText(s.title, 8, 18);
    ctx.fillText("x: " + s.xlim[0] + " … " + s.xlim[1] + ",  y: " + s.ylim[0] + " … " + s.ylim[1], 8, canvas.height - 8);
    ctx.strokeStyle = "white";
    ctx.setLineDash([6, 4]);
    for (const line of s.minimumCurve) {
      ctx.beginPath();
      line.forEach(function (p, k) { if (k === 0) ctx.moveTo(X(p[0]), Y(p[1])); else ctx.lineTo(X(p[0]), Y(p[1])); });
      ctx.stroke();
    }
    ctx.setLineDash([]);
    for (const p of s.minima) ctx.fillText("★ minimum", X(p[0]) - 6, Y(p[1]) + 5);
    for (const p of s.saddles) ctx.fillText("✕ saddle", X(p[0]) - 5, Y(p[1]) + 5);
    if (s.minimumCurve.length) ctx.fillText("- - minima: w₁w₂ = 1", canvas.width - 150, 40);
    ctx.strokeStyle = "#ff7f0e";
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (let t = 0; t <= state.step && !isNaN(r.theta[2 * t]); t++) {
      const x = X(r.theta[2 * t]), y = Y(r.theta[2 * t + 1]);
      if (t === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    }
    ctx.stroke();
    ctx.fillStyle = "white";
    ctx.fillRect(X(s.start[0]) - 4, Y(s.start[1]) - 4, 8, 8);
    const now = lastPoint(r);
    ctx.fillStyle = "#ff7f0e";
    ctx.beginPath();
    ctx.arc(X(r.theta[2 * now]), Y(r.theta[2 * now + 1]), 5, 0, 2 * Math.PI);
    ctx.fill();
  }

  function lastPoint(r) {  // the step shown, or the last step before the path ran away
    let t = state.step;
    while (t > 0 && isNaN(r.theta[2 * t])) t--;
    return t;
  }

  function drawTrace(id, title, series, log) {
    const canvas = document.getElementById(id), ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#222";
    ctx.font = "12px Helvetica, Arial, sans-serif";
    ctx.fillText(title, 6, 14);
    const map = function (v) { return log ? Math.log10(Math.abs(v)) : v; };
    let low = Infinity, high = -Infinity;
    for (const s of series) for (const v of s.values) if (isFinite(map(v))) { low = Math.min(low, map(v)); high = Math.max(high, map(v)); }
    if (!isFinite(low)) { ctx.fillText("none (σ = 1)", 6, 34); return; }
    if (high === low) { high += 1; low -= 1; }
    ctx.fillStyle = "#777";
    const tick = function (v) { return (log ? Math.pow(10, v) : v).toPrecision(3); };
    ctx.fillText(tick(high), 6, 30);
    ctx.fillText(tick(low), 6, canvas.height - 12);
    const X = function (t) { return 6 + t / (T - 1) * (canvas.width - 12); };
    const Y = function (v) { return canvas.height - 8 - (map(v) - low) / (high - low) * (canvas.height - 30); };
    series.forEach(function (s, k) {
      ctx.strokeStyle = s.colour;
      ctx.beginPath();
      s.values.forEach(function (v, t) { if (isFinite(map(v))) { if (t === 0) ctx.moveTo(X(t), Y(v)); else ctx.lineTo(X(t), Y(v)); } });
      ctx.stroke();
      ctx.fillStyle = s.colour;
      ctx.fillText(s.label, canvas.width - 60, 14 + 14 * k);
    });
    ctx.strokeStyle = "#999";
    ctx.beginPath();
    ctx.moveTo(X(Math.min(state.step, T - 1)), 20);
    ctx.lineTo(X(Math.min(state.step, T - 1)), canvas.height);
    ctx.stroke();
  }

  function coordinate(values, k) { return Array.from({ length: T }, function (_, t) { return values[2 * t + k]; }); }

  function show() {
    const r = run(), t = lastPoint(r), u = Math.min(state.step, T - 1);
    drawSurface(r);
    drawTrace("sigma", "σᵗ (log scale)", [{ label: "σ₁", colour: "#1f77b4", values: coordinate(r.sigma, 0) },
                                            { label: "σ₂", colour: "#d62728", values: coordinate(r.sigma, 1) }], true);
    drawTrace("direction", "mᵗ", [{ label: "m₁", colour: "#1f77b4", values: coordinate(r.m, 0) },
                                   { label: "m₂", colour: "#d62728", values: coordinate(r.m, 1) }], false);
    drawTrace("eta", "ηᵗ", [{ label: "η", colour: "#2ca02c", values: Array.from(r.eta) }], false);
    const s = data.surfaces[state.surface];
    document.getElementById("lr-value").textContent = String(data.learningRates[state.lr]);
    document.getElementById("step-value").textContent = String(state.step);
    document.getElementById("formula").textContent = state.optimizer + ": " + data.optimizers[state.optimizer];
    const readout = document.getElementById("readout");
    const ranAway = t < state.step ? " — the path ran away (|θ| > 10⁴) after step " + t : "";
    const x = r.theta[2 * t], y = r.theta[2 * t + 1];
    readout.textContent = "θ" + sup(t) + " = (" + x.toPrecision(4) + ", " + y.toPrecision(4) + ")" + ranAway
      + "; at step " + u + ": η = " + r.eta[u].toPrecision(3) + ", σ = " + (isNaN(r.sigma[2 * u]) ? "1 (none)"
      : "(" + r.sigma[2 * u].toPrecision(3) + ", " + r.sigma[2 * u + 1].toPrecision(3) + ")")
      + ", m = (" + r.m[2 * u].toPrecision(3) + ", " + r.m[2 * u + 1].toPrecision(3) + ")";
    readout.dataset.theta = x + "," + y;
    readout.dataset.thetaStep = String(t);
    readout.dataset.sigma = r.sigma[2 * u] + "," + r.sigma[2 * u + 1];
    readout.dataset.m = r.m[2 * u] + "," + r.m[2 * u + 1];
    readout.dataset.eta = String(r.eta[u]);
    history.replaceState(null, "", "#surface=" + state.surface + "&optimizer=" + state.optimizer + "&schedule="
      + encodeURIComponent(state.schedule) + "&lr=" + data.learningRates[state.lr] + "&step=" + state.step);
    document.body.dataset.shown = [state.surface, state.optimizer, state.schedule, state.lr, state.step].join("|");
  }

  function sup(t) { return String(t).replace(/\d/g, function (d) { return "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]; }); }

  // ---- controls
  function radios(id, names, key) {
    const box = document.getElementById(id);
    for (const name of names) {
      const label = document.createElement("label"), input = document.createElement("input");
      input.type = "radio";
      input.name = key;
      input.value = name;
      input.checked = state[key] === name;
      input.onchange = function () { state[key] = name; show(); };
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + name));
      box.appendChild(label);
    }
  }

  function readAddress() {  // #surface=…&optimizer=…&schedule=…&lr=…&step=…; unknown values are ignored
    const fields = new URLSearchParams(location.hash.slice(1));
    if (surfaceNames.includes(fields.get("surface"))) state.surface = fields.get("surface");
    if (optimizerNames.includes(fields.get("optimizer"))) state.optimizer = fields.get("optimizer");
    if (data.schedules.includes(fields.get("schedule"))) state.schedule = fields.get("schedule");
    const lr = data.learningRates.indexOf(parseFloat(fields.get("lr")));
    if (lr >= 0) state.lr = lr;
    const step = parseInt(fields.get("step"), 10);
    if (step >= 0) state.step = Math.min(step, T);
  }

  readAddress();
  radios("surface-choice", surfaceNames, "surface");
  radios("optimizer-choice", optimizerNames, "optimizer");
  radios("schedule-choice", data.schedules, "schedule");
  const lrSlider = document.getElementById("lr"), stepSlider = document.getElementById("step");
  lrSlider.max = String(data.learningRates.length - 1);
  lrSlider.value = String(state.lr);
  stepSlider.max = String(T);
  stepSlider.value = String(state.step);
  lrSlider.oninput = function () { state.lr = parseInt(lrSlider.value, 10); show(); };
  stepSlider.oninput = function () { state.step = parseInt(stepSlider.value, 10); show(); };
  show();
  document.body.dataset.readyMs = performance.now().toFixed(1);  // for benchmarks/bench_pages.py
})();
