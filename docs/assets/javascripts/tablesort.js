// Tables wrapped in <div class="sortable" markdown> sort when a header is clicked
// (numerically where the column holds numbers), once Material has set the page up (document$).

var LEADING_NUMBER = /^[-+]?\d[\d,]*(\.\d+)?/;

// Numbers, also with a unit or a note after them ("12 ms", "1,500 B", "1 (half_open_calls)"),
// sort as numbers; a cell without a number counts as 0. Like tablesort's own sorts, b - a.
Tablesort.extend(
  "number-with-unit",
  function (item) {
    return LEADING_NUMBER.test(item.trim());
  },
  function (a, b) {
    var number = function (text) {
      var found = text.trim().match(LEADING_NUMBER);
      return found ? parseFloat(found[0].replace(/,/g, "")) : 0;
    };
    return number(b) - number(a);
  }
);

// Tablesort guesses a column's kind from its first three cells in the *current* order, so a
// column of numbers with a few words in it sorted as numbers on one click and as text on the
// next. Decide each column's kind once, from all its cells: numeric when most are numbers.
function fixColumnKinds(table) {
  var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
  if (!head || !table.tBodies.length) return;
  Array.prototype.forEach.call(head.cells, function (th, index) {
    if (th.hasAttribute("data-sort-method")) return; // an author's choice wins
    var cells = Array.prototype.map
      .call(table.tBodies[0].rows, function (row) {
        return row.cells[index] ? row.cells[index].textContent.trim() : "";
      })
      .filter(Boolean);
    var numbers = cells.filter(function (text) {
      return LEADING_NUMBER.test(text);
    }).length;
    // "text" names no extension, so tablesort uses its default, case-insensitive text sort
    th.setAttribute("data-sort-method", 2 * numbers > cells.length ? "number-with-unit" : "text");
  });
}

// For the keyboard and screen readers: tablesort makes each header focusable and sorts on
// Enter; Space sorts too, as on any button. Every header states its sort (aria-sort "none"
// until sorted), and a status line under the table says what the last sort did, so a screen
// reader announces it.
function announceSorting(table) {
  var head = table.tHead.rows[table.tHead.rows.length - 1];
  var headers = Array.prototype.slice.call(head.cells);
  var status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  table.insertAdjacentElement("afterend", status);
  headers.forEach(function (th) {
    if (!th.hasAttribute("aria-sort")) th.setAttribute("aria-sort", "none");
    th.addEventListener("keydown", function (event) {
      if (event.key === " ") {
        event.preventDefault(); // not a page scroll
        th.click();
      }
    });
  });
  table.addEventListener("afterSort", function () {
    var sorted = null;
    headers.forEach(function (th) {
      var state = th.getAttribute("aria-sort");
      if (!state) th.setAttribute("aria-sort", "none");
      else if (state !== "none") sorted = th;
    });
    if (sorted) {
      status.textContent = "Sorted by " + sorted.textContent.trim() + ", " +
        sorted.getAttribute("aria-sort") + ".";
    }
  });
}

document$.subscribe(function () {
  document.querySelectorAll("article .sortable table").forEach(function (table) {
    fixColumnKinds(table);
    new Tablesort(table);
    announceSorting(table);
  });
});
