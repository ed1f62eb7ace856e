// Notebook pages (mkdocs-jupyter) render code cells as <div class="highlight-ipynb"><pre>,
// which Material's code-block features do not reach. Once Material has set the page up
// (document$):
// - cells that scroll sideways become reachable with the keyboard (axe: scrollable-region-focusable);
// - each input cell gets Material's copy button (Material's clipboard handler serves any
//   button with data-clipboard-target, so the button works and looks like the others).
document$.subscribe(function () {
  var cells = document.querySelectorAll(
    ".jupyter-wrapper .highlight-ipynb, .jupyter-wrapper .jp-OutputArea-output pre"
  );
  cells.forEach(function (cell) {
    cell.tabIndex = 0;
  });
  document
    .querySelectorAll(".jupyter-wrapper .jp-InputArea .highlight-ipynb > pre")
    .forEach(function (pre, index) {
      if (pre.querySelector("[data-md-type=copy]")) return;
      if (!pre.id) pre.id = "__notebook_code_" + index;
      var nav = document.createElement("nav");
      nav.className = "md-code__nav";
      var button = document.createElement("button");
      button.className = "md-code__button";
      button.title = "Copy to clipboard";
      button.setAttribute("data-clipboard-target", "#" + pre.id);
      button.setAttribute("data-md-type", "copy");
      nav.appendChild(button);
      pre.insertBefore(nav, pre.firstChild);
    });
});
