// The palette toggle in the header (partials/palette.html): a click on its button, Enter, or
// the arrow keys pick the next option; an option that follows the system follows it live. The
// choice is saved as Material saves it (__palette), so its script would read it too. The
// choice of the page being loaded was applied while the header was parsed
// (partials/javascripts/palette.html), so at start-up this only names the header's colour for
// the browser's toolbar, once the page is drawn and reading a style costs nothing.
(function () {
  var form = document.querySelector("form[data-md-palette]");
  if (!form) return;
  var inputs = form.querySelectorAll("input");
  var themeColor = document.createElement("meta");
  themeColor.name = "theme-color";

  function nameToolbarColour() {
    var rgb = getComputedStyle(document.querySelector("header")).backgroundColor;
    themeColor.content = "#" + rgb.match(/\d+/g).slice(0, 3).map(function (c) {
      return (+c).toString(16).padStart(2, "0");
    }).join("");
    if (!themeColor.parentNode) document.head.appendChild(themeColor);
  }

  function show(index) {
    // no colour transitions while the scheme changes (Material's CSS rule for this attribute)
    document.body.setAttribute("data-md-color-switching", "");
    var choice = window.__mdPalette(form, index);
    __md_set("__palette", choice);
    nameToolbarColour();
    requestAnimationFrame(function () {
      document.body.removeAttribute("data-md-color-switching");
    });
  }

  function chosen() {
    return Array.prototype.findIndex.call(inputs, function (input) { return input.checked; });
  }

  form.addEventListener("change", function () { show(chosen()); });
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    var next = inputs[(chosen() + 1) % inputs.length];
    next.click();
    next.focus();
  });
  matchMedia("(prefers-color-scheme: light)").addEventListener("change", function () {
    var input = inputs[chosen()];
    if (input && input.getAttribute("data-md-color-media") === "(prefers-color-scheme)") {
      show(chosen());
    }
  });
  requestAnimationFrame(function () { setTimeout(nameToolbarColour, 0); });
})();
