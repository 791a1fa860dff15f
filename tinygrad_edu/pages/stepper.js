// Steps through the story written by tinygrad_edu/stepper.py: at step s every
// box shows the value it has by then and its gradient's running sum (or "?").
"use strict";
(function () {
  const story = JSON.parse(document.getElementById("story").textContent);
  const last = story.steps.length - 1;
  const boxes = {};  // Graphviz's <title> of each node and edge -> its <g>
  for (const g of document.querySelectorAll("#graph g.node, #graph g.edge")) {
    boxes[g.querySelector("title").textContent.replace("->", "\u2192")] = g;
  }
  const shapes = {};  // each node's outline and its colours as Graphviz drew them
  for (const [key, g] of Object.entries(boxes)) {
    const shape = g.querySelector("ellipse, polygon, path");
    shapes[key] = { shape: shape, fill: shape.getAttribute("fill"), stroke: shape.getAttribute("stroke"),
                    width: shape.getAttribute("stroke-width") || "1" };
  }

  const list = document.getElementById("steps");
  story.steps.forEach(function (step) {
    const item = document.createElement("li");
    item.textContent = step.text;
    list.appendChild(item);
  });

  function latest(entries, s) {  // the last [step, text] shown by step s
    let shown = null;
    for (const entry of entries || []) if (entry[0] <= s) shown = entry[1];
    return shown;
  }

  function show(s) {
    for (const [key, g] of Object.entries(boxes)) {
      const lines = g.querySelectorAll("text");
      if (story.values[key] && lines.length > 1) {
        lines[1].textContent = "data " + (story.values[key][0] <= s ? story.values[key][1] : "?");
      }
      if (story.grads[key] && lines.length > 2) {
        const grad = latest(story.grads[key], s);
        lines[2].textContent = "grad " + (grad === null ? "?" : grad);
      }
      const look = shapes[key];
      look.shape.setAttribute("fill", look.fill);
      look.shape.setAttribute("stroke", look.stroke);
      look.shape.setAttribute("stroke-width", look.width);
    }
    const step = story.steps[s];
    if (step.op) shapes[step.op].shape.setAttribute("fill", "gold");
    for (const key of [step.tensor, step.edge && step.edge.join("\u2192")]) {
      if (key && shapes[key]) {
        shapes[key].shape.setAttribute("stroke", step.phase === "forward" ? "#1565c0" : "#c62828");
        shapes[key].shape.setAttribute("stroke-width", "3");
      }
    }
    document.getElementById("caption").textContent = step.text;
    document.body.dataset.shownStep = String(s);
    document.getElementById("position").textContent = "step " + s + " of " + last + " (" + step.phase + ")";
    list.querySelectorAll("li").forEach(function (item, i) {
      item.className = i === s ? "current" : i < s ? "done" : "";
    });
  }

  function current() {  // the step in the address; past the last shows the last
    const match = /step=(\d+)/.exec(location.hash);
    return match ? Math.min(parseInt(match[1], 10), last) : 0;
  }

  function go(s) {
    s = Math.max(0, Math.min(s, last));
    history.replaceState(null, "", "#step=" + s);
    show(s);
  }

  document.getElementById("first").onclick = function () { go(0); };
  document.getElementById("previous").onclick = function () { go(current() - 1); };
  document.getElementById("next").onclick = function () { go(current() + 1); };
  document.getElementById("last").onclick = function () { go(last); };
  document.addEventListener("keydown", function (event) {
    const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
    if (event.key in moves) {
      event.preventDefault();
      go(current() + moves[event.key]);
    }
  });
  window.addEventListener("hashchange", function () { show(current()); });
  show(current());
  document.body.dataset.readyMs = performance.now().toFixed(1);  // for benchmarks/bench_pages.py
})();
