// What a reader sees of the page now shown, measured in the browser (tests/site/test_pages.py).
// Returns a report; the Python tests decide what is a failure. Evaluated as one function.
async () => {
  // A reader who scrolls gets every figure and code block laid out (figures.css and extra.css
  // defer the ones below the fold: content-visibility): lay them all out, and let the page's
  // scripts see their sizes.
  const shown = document.createElement("style");
  shown.textContent = ".diagram, .plot-box, .highlight pre > code " +
    "{ content-visibility: visible !important; }";
  document.head.append(shown);
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  await new Promise((resolve) => setTimeout(resolve, 0));

  const MIN_TEXT_PX = 12;

  // --- colours -------------------------------------------------------------------------------
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const paint = canvas.getContext("2d", { willReadFrequently: true });
  // Any CSS colour (rgb(), color-mix(), color(srgb ...), names) as [r, g, b, a] in 0..1.
  function rgba(css) {
    if (!css || css === "none" || css === "transparent") return [0, 0, 0, 0];
    paint.clearRect(0, 0, 1, 1);
    paint.fillStyle = "rgba(0, 0, 0, 0)";
    paint.fillStyle = css;
    paint.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = paint.getImageData(0, 0, 1, 1).data;
    return [r / 255, g / 255, b / 255, a / 255];
  }
  function over(top, bottom) { // top composited over an opaque bottom
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
  }
  function luminance([r, g, b]) {
    const lin = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  }
  function contrast(a, b) {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  }
  function pageBackground(element) {
    for (let node = element; node; node = node.parentElement) {
      const colour = rgba(getComputedStyle(node).backgroundColor);
      if (colour[3] > 0.99) return colour;
    }
    return [1, 1, 1, 1];
  }
  function opacityOf(element, stop) { // opacity of element and its ancestors up to stop
    let product = 1;
    for (let node = element; node && node !== stop.parentElement; node = node.parentElement) {
      product *= parseFloat(getComputedStyle(node).opacity || "1");
    }
    return product;
  }
  function paintColour(element, property, svg) {
    const style = getComputedStyle(element);
    const colour = rgba(style[property]);
    colour[3] *= parseFloat(style[property + "Opacity"] || "1") * opacityOf(element, svg);
    return colour;
  }

  // --- SVG geometry: what is painted behind a point, in the drawing's own coordinates ---------
  function boxIn(svg, element) { // element's bounding box in the svg's coordinates
    const box = element.getBBox();
    const matrix = svg.getScreenCTM().inverse().multiply(element.getScreenCTM());
    const corners = [[box.x, box.y], [box.x + box.width, box.y],
      [box.x, box.y + box.height], [box.x + box.width, box.y + box.height]]
      .map(([x, y]) => new DOMPoint(x, y).matrixTransform(matrix));
    const xs = corners.map((p) => p.x), ys = corners.map((p) => p.y);
    return { x: Math.min(...xs), y: Math.min(...ys), right: Math.max(...xs),
      bottom: Math.max(...ys) };
  }
  const SHAPES = "rect, polygon, circle, ellipse, path";
  // The colour behind `element` at its centre: every filled shape painted before it whose box
  // holds that point, composited over the page.
  function behind(svg, element, shapes, base) {
    const own = boxIn(svg, element);
    const cx = (own.x + own.right) / 2, cy = (own.y + own.bottom) / 2;
    let colour = base;
    for (const shape of shapes) {
      if (shape.element === element || element.contains(shape.element)) break;
      if (shape.element.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_PRECEDING) break;
      const b = shape.box;
      if (cx >= b.x && cx <= b.right && cy >= b.y && cy <= b.bottom) colour = over(shape.fill, colour);
    }
    return colour;
  }
  function visible(element) {
    return element.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  }

  function figureReport(box, kind) {
    const svg = box.querySelector(":scope > svg");
    const report = { kind, title: "", described: false, problems: [] };
    if (!svg) { report.problems.push("no <svg>"); return report; }
    const title = svg.querySelector(":scope > title");
    report.title = title ? title.textContent.trim() : "";
    report.described = !!(svg.querySelector(":scope > desc") || "").textContent;
    const base = pageBackground(box);
    const shapes = [...svg.querySelectorAll(SHAPES)]
      .filter((shape) => !shape.closest("defs, marker, symbol, clipPath, mask") && visible(shape))
      .map((shape) => ({ element: shape, box: boxIn(svg, shape),
        fill: paintColour(shape, "fill", svg) }))
      .filter((shape) => shape.fill[3] > 0);
    const name = (element) => (element.textContent || element.tagName).trim().slice(0, 40);

    // Text: every element that holds characters itself (a <text>, or the <tspan>s it splits
    // into, which may be coloured otherwise). A plot is drawn on a transparent background, so
    // its text sits on the page (its bars' boxes overrun their clip paths: no geometry there).
    let smallest = Infinity;
    const checkedLabels = new Set();
    const holders = [...svg.querySelectorAll("text, tspan")].filter((element) =>
      [...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE
        && node.textContent.trim()));
    for (const text of holders) {
      if (!visible(text)) continue;
      const matrix = text.getScreenCTM();
      const scale = Math.sqrt(Math.abs(matrix.a * matrix.d - matrix.b * matrix.c));
      const size = parseFloat(getComputedStyle(text).fontSize) * scale;
      smallest = Math.min(smallest, size);
      const back = kind === "diagram" ? behind(svg, text, shapes, base) : base;
      const ratio = contrast(over(paintColour(text, "fill", svg), back), back);
      if (ratio < 4.5) report.problems.push(`text "${name(text)}" at ${ratio.toFixed(2)}:1`);
      const label = text.closest("text");
      if (kind === "diagram" && !checkedLabels.has(label)) {
        // a label drawn on a box (a node, a note, an edge label's background) stays inside it
        checkedLabels.add(label);
        const own = boxIn(svg, label);
        const cx = (own.x + own.right) / 2, cy = (own.y + own.bottom) / 2;
        const holders = shapes.filter((shape) => !shape.element.contains(label)
          && cx >= shape.box.x && cx <= shape.box.right
          && cy >= shape.box.y && cy <= shape.box.bottom);
        const box = holders.sort((a, b) => (a.box.right - a.box.x) - (b.box.right - b.box.x))[0];
        if (box && (own.x < box.box.x - 1 || own.right > box.box.right + 1)) {
          report.problems.push(`text "${name(label)}" runs out of its box ` +
            `(${(own.right - own.x).toFixed(0)} px in ${(box.box.right - box.box.x).toFixed(0)} px)`);
        }
      }
    }
    report.smallestTextPx = smallest === Infinity ? null : Math.round(smallest * 10) / 10;
    if (smallest < MIN_TEXT_PX - 0.05) {
      report.problems.push(`text as small as ${smallest.toFixed(1)} px (under ${MIN_TEXT_PX})`);
    }

    if (kind === "diagram") { // lines, borders and arrowheads: 3:1 against what is behind them
      const stroked = [...svg.querySelectorAll("line, path, polyline, polygon, rect, circle")]
        .filter((element) => !element.closest("defs, marker, symbol") && visible(element));
      for (const element of stroked) {
        const { width, height } = element.getBBox();
        const flat = element.tagName === "line" || element.tagName === "path"
          ? width === 0 && height === 0 : width === 0 || height === 0;
        if (flat) continue; // drawn nowhere (Mermaid leaves empty <rect>s in labels)
        const style = getComputedStyle(element);
        if (style.stroke === "none" || parseFloat(style.strokeWidth) === 0) continue;
        const stroke = paintColour(element, "stroke", svg);
        if (stroke[3] === 0) continue;
        const back = behind(svg, element, shapes, base);
        const ratio = contrast(over(stroke, back), back);
        if (ratio < 3) {
          report.problems.push(`${element.tagName} ${element.getAttribute("class") || ""} ` +
            `stroke at ${ratio.toFixed(2)}:1`);
        }
      }
      for (const marker of svg.querySelectorAll("marker")) {
        const used = svg.querySelector(`[marker-end="url(#${marker.id})"],` +
          `[marker-start="url(#${marker.id})"]`);
        if (!used) continue;
        for (const shape of marker.querySelectorAll("path, circle, polygon")) {
          const style = getComputedStyle(shape);
          const paintWith = style.fill !== "none" ? "fill" : "stroke";
          const colour = rgba(style[paintWith]);
          const ratio = contrast(over(colour, base), base);
          if (ratio < 3) report.problems.push(`marker ${marker.id} at ${ratio.toFixed(2)}:1`);
        }
      }
    }

    // a figure wider than its box scrolls there: it must be focusable and named
    report.scrolls = box.scrollWidth > box.clientWidth + 1;
    if (report.scrolls && (box.tabIndex !== 0 || !box.getAttribute("aria-label"))) {
      report.problems.push("scrolls sideways but is not a focusable, labelled region");
    }
    if (!report.title) report.problems.push("no <title> (accTitle or alt text)");
    if (kind === "diagram" && !report.described) report.problems.push("no <desc> (accDescr)");
    return report;
  }

  // --- the report ------------------------------------------------------------------------------
  const root = document.documentElement;
  const article = document.querySelector("article");
  const report = {
    pageScrollsSideways: root.scrollWidth > root.clientWidth + 1,
    pageWidth: root.scrollWidth,
    viewport: root.clientWidth,
    figures: [],
    codeOverflow: [],
    tableOverflow: [],
    invisibleTabStops: [],
    mermaidBlocks: document.querySelectorAll("pre.mermaid, div.mermaid").length,
    codeWithoutCopyButton: 0,
    codeBlocks: 0,
  };
  // Syntax highlighting: each colour a code block uses, against the block's background, at
  // 4.5:1 (axe skips code blocks, whose thousands of spans would take it seconds a page; the
  // colours are few, so each distinct pair is checked once here).
  report.codeColours = [];
  const pairs = new Map();
  for (const code of article.querySelectorAll("pre code, .highlight-ipynb pre")) {
    const back = pageBackground(code);
    for (const element of [code, ...code.querySelectorAll("span")]) {
      if (![...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE
        && node.textContent.trim())) continue;
      const colour = getComputedStyle(element).color;
      const key = `${colour} on ${back.join(",")}`;
      if (!pairs.has(key)) pairs.set(key, [over(rgba(colour), back), back, element]);
    }
  }
  for (const [key, [colour, back, element]] of pairs) {
    const ratio = contrast(colour, back);
    if (ratio < 4.5) {
      report.codeColours.push(`code "${element.textContent.trim().slice(0, 20)}" ` +
        `(.${element.className || "plain"}) at ${ratio.toFixed(2)}:1`);
    }
  }
  report.codeColourPairs = pairs.size;

  // Code blocks (fences, notebook input cells) have Material's copy button. Material adds it
  // when a block comes into view (content.lazy), so a block without one is scrolled to, as a
  // reader would, before it counts as missing; then the page is put back where it was. A block
  // the reader cannot see yet (in a closed <details>) gets its button when it is shown.
  const hasButton = (pre) => pre.querySelector("button[data-md-type='copy']");
  const scrolledTo = [scrollX, scrollY];
  for (const pre of article.querySelectorAll(
    ".highlight pre:has(> code), .jp-InputArea .highlight-ipynb > pre")) {
    if (!visible(pre)) continue;
    report.codeBlocks += 1;
    if (!hasButton(pre)) {
      pre.scrollIntoView({ block: "center" });
      // Material's IntersectionObserver reports after a frame or more: wait up to ~2 s for it
      for (let frame = 0; frame < 120 && !hasButton(pre); frame++) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
      }
    }
    if (!hasButton(pre)) report.codeWithoutCopyButton += 1;
  }
  scrollTo(...scrolledTo);
  for (const box of article.querySelectorAll(".diagram")) report.figures.push(figureReport(box, "diagram"));
  for (const box of article.querySelectorAll(".plot-box")) report.figures.push(figureReport(box, "plot"));

  for (const pre of article.querySelectorAll("pre")) {
    if (!visible(pre)) continue;
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const longest = Math.max(...pre.textContent.split("\n").map((line) => line.length));
      report.codeOverflow.push(`${pre.closest("[id]") ? pre.closest("[id]").id : "pre"}: ` +
        `${pre.scrollWidth} px in ${pre.clientWidth} px (longest line ${longest} chars)`);
    }
  }
  for (const table of article.querySelectorAll("table")) {
    const holder = table.closest(".md-typeset__scrollwrap") || table.parentElement;
    if (visible(table) && table.scrollWidth > holder.clientWidth + 1) {
      const head = [...table.querySelectorAll("th")].map((th) => th.textContent.trim()).join(" | ");
      report.tableOverflow.push(`${table.scrollWidth} px in ${holder.clientWidth} px: ${head.slice(0, 80)}`);
    }
  }

  // Tab stops a reader cannot see: focusable, in the tab order, yet invisible when focused
  // (transitions off, so a skip link or a permalink shows at once when focused).
  const still = document.createElement("style");
  still.textContent = "*, *::before, *::after { transition: none !important; " +
    "animation: none !important; }";
  document.head.append(still);
  const focusable = "a[href], button, input, select, textarea, summary, [tabindex]";
  const before = document.activeElement;
  for (const element of document.querySelectorAll(focusable)) {
    if (element.tabIndex < 0 || element.disabled || element.closest("[inert]")) continue;
    if (!element.checkVisibility({ checkVisibilityCSS: true })) continue; // not in the tab order
    if (element.type === "radio" && element.name && !element.checked) continue; // arrow keys
    if (element.labels && [...element.labels].some((label) => visible(label))) continue;
    if (element.matches("input.md-option") && [...element.form.querySelectorAll("label")]
      .some((label) => visible(label))) continue; // the palette's visible button shows focus
    element.focus({ preventScroll: true });
    if (document.activeElement !== element) continue;
    const rect = element.getBoundingClientRect();
    const seen = element.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })
      && rect.width > 0 && rect.height > 0;
    if (!seen) {
      const label = element.getAttribute("aria-label") || element.textContent.trim() || element.tagName;
      report.invisibleTabStops.push(`${element.tagName.toLowerCase()}.${element.className}: ` +
        `"${label.replace(/\s+/g, " ").slice(0, 40)}"`);
    }
  }
  if (before && before.focus) before.focus({ preventScroll: true });
  still.remove();
  shown.remove();
  return report;
}
