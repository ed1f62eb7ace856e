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

// A figure below the fold is laid out only when the reader comes near it (content-visibility in
// figures.css): watch each drawing's size, which changes then, and on every resize.
var figureSizes = new ResizeObserver(function () {
  markScrollingFigures();
});
document$.subscribe(function () {
  figureSizes.disconnect();
  document.querySelectorAll("article .diagram > svg, article .plot-box > svg").forEach(
    function (svg) {
      figureSizes.observe(svg);
    }
  );
  markScrollingFigures();
});
