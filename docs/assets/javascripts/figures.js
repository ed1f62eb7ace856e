// A diagram or plot wider than its column scrolls sideways inside its own box (its text never
// shrinks below 12 px: see docs_tools/diagrams.py and plots.py). Such a box becomes a labelled
// region that the keyboard can focus and scroll; a box that fits gets no tab stop.
function markIfScrolling(box) {
  var title = box.querySelector("svg > title");
  var name = (title ? title.textContent.trim() : "") || "Figure";
  if (box.scrollWidth > box.clientWidth + 1) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", name + " (scrolls sideways)");
  } else {
    box.removeAttribute("tabindex");
    box.removeAttribute("role");
    box.removeAttribute("aria-label");
  }
}

// Checked when a box or its drawing changes size: the box when the window is resized, the
// drawing when it is first laid out. A figure below the fold is laid out only when the reader
// comes near it (content-visibility in figures.css). A ResizeObserver reports after layout, and
// reports each element once when first watched, so nothing here makes the browser lay out the
// page early while it loads.
var figureSizes = new ResizeObserver(function (entries) {
  entries.forEach(function (entry) {
    markIfScrolling(entry.target.closest(".diagram, .plot-box"));
  });
});
document$.subscribe(function () {
  figureSizes.disconnect();
  document.querySelectorAll("article .diagram, article .plot-box").forEach(function (box) {
    figureSizes.observe(box);
    var drawing = box.querySelector(":scope > svg");
    if (drawing) figureSizes.observe(drawing);
  });
});
