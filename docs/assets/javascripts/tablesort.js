// Tables wrapped in <div class="sortable" markdown> sort when a header is clicked
// (numerically where the column holds numbers). document$ emits on the first load and
// again after every instant-navigation hop, so tables on pages reached that way sort too.
document$.subscribe(function () {
  document.querySelectorAll("article .sortable table").forEach(function (table) {
    new Tablesort(table);
  });
});
