// A diagram or plot wider than its column scrolls sideways inside its own box (its text never
// shrinks below 12 px: see docs_tools/diagrams.py and plots.py). Such a box becomes a labelled
// region that the keyboard can focus and scroll; a box that fits gets no tab stop. Checked on
// the first load, after every instant-navigation hop (document$) and when the window resizes.
function markScrollingFigures() {
  document.querySelectorAll("article .diagram, article .plot-box").forEach(function (box) {
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
  });
}

document$.subscribe(markScrollingFigures);
var figureResizeTimer;
window.addEventListener("resize", function () {
  clearTimeout(figureResizeTimer);
  figureResizeTimer = setTimeout(markScrollingFigures, 100);
});
