// The program boxes of docs_tools/programs.py. "Copy" puts the whole file on the clipboard and
// "Show it here" reads it into the page under the box (again: hides it); both fetch the file only
// when asked, so a page does not carry every program it offers. Without JavaScript the links
// simply open the file. Bound once Material has set the page up (document$).
function programSay(box, text) {
  var status = box.querySelector(".program__status");
  if (!status) {
    status = document.createElement("span");
    status.className = "program__status";
    status.setAttribute("role", "status");
    box.lastElementChild.append(status);
  }
  status.textContent = text;
}

function programShow(box, link, text) {
  var pre = document.createElement("pre");
  pre.className = "program__source";
  pre.tabIndex = 0; // it scrolls: reachable with the keyboard
  pre.setAttribute("aria-label", link.getAttribute("href").split("/").pop() + ", the whole program");
  var code = document.createElement("code");
  code.textContent = text;
  pre.append(code);
  box.append(pre);
  link.textContent = "Hide it";
  link.setAttribute("aria-expanded", "true");
}

document$.subscribe(function () {
  document.querySelectorAll("article .program a[data-program]").forEach(function (link) {
    if (link.dataset.bound) return;
    link.dataset.bound = "true";
    if (link.dataset.program === "show") link.setAttribute("aria-expanded", "false");
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var box = link.closest(".program");
      var shown = box.querySelector(".program__source");
      if (link.dataset.program === "show" && shown) {
        shown.remove();
        link.textContent = "Show it here";
        link.setAttribute("aria-expanded", "false");
        return;
      }
      fetch(link.href)
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (text) {
          if (link.dataset.program === "show") return programShow(box, link, text);
          return navigator.clipboard.writeText(text).then(function () {
            programSay(box, "Copied " + text.split("\n").length + " lines.");
          });
        })
        .catch(function (error) {
          programSay(box, "Could not load the file (" + error.message + ").");
        });
    });
  });
});
