() => {
  // Run by tests/dashboard/layout.py in the page (page.evaluate): every layout problem of
  // the page as a line of text. Elements not rendered, or visually hidden (clip-path), are
  // skipped; form fields may scroll their own value.
  const problems = [];
  const root = document.documentElement;
  const width = root.clientWidth;
  if (root.scrollWidth > width + 1) {
    problems.push(`the page scrolls sideways: ${root.scrollWidth}px wide in a ${width}px window`);
  }
  const name = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += "#" + el.id;
    if (typeof el.className === "string" && el.className.trim()) {
      text += "." + el.className.trim().split(/\s+/).join(".");
    }
    const words = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 50);
    return words ? `${text} ("${words}")` : text;
  };
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) return false;  // not rendered, or visually hidden
    // Not rendered: hidden, or inside a closed <details> (whose content Chromium keeps
    // laid out under content-visibility: hidden).
    if (!el.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true})) return false;
    if (el.closest("details:not([open]) > :not(summary)")) return false;
    for (let up = el; up; up = up.parentElement) {  // inside a visually hidden element
      if (getComputedStyle(up).clipPath !== "none") return false;
    }
    return true;
  };
  const skip = new Set(["SCRIPT", "STYLE", "OPTION", "OPTGROUP", "BR", "HEAD", "TITLE"]);
  const elements = [...document.body.querySelectorAll("*")].filter(
    (el) => !skip.has(el.tagName) && shown(el));
  for (const el of elements) {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    const scrolls = el.matches("input, textarea, select");  // a long value scrolls in its box
    if (!scrolls && ["hidden", "clip"].includes(style.overflowX) &&
        el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${name(el)} clips its content: ${el.scrollWidth}px in ${el.clientWidth}px`);
    }
    if (box.left < -1 || box.right > width + 1) {
      problems.push(`${name(el)} runs out of the window: ${Math.round(box.left)}..${Math.round(box.right)} of ${width}px`);
    }
    const parent = el.parentElement;
    if (parent && parent !== document.body && shown(parent) && style.position !== "fixed") {
      const outer = parent.getBoundingClientRect();
      if (box.left < outer.left - 1 || box.right > outer.right + 1) {
        problems.push(`${name(el)} sticks out of ${name(parent)}: ` +
          `${Math.round(box.left)}..${Math.round(box.right)} in ${Math.round(outer.left)}..${Math.round(outer.right)}`);
      }
    }
  }
  // Controls and runs of text must not cover one another (the Retry button and the
  // delivery id of issue 17). Inline ones are compared line box by line box.
  const atoms = elements.filter((el) => el.matches(
    "a, button, code, input, select, textarea, time, .ch-badge, h1, h2, h3, label, summary > span"));
  const boxes = atoms.map((el) => [el, [...el.getClientRects()].filter((r) => r.width > 1 && r.height > 1)]);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const hit = ra.some((p) => rb.some((q) =>
        Math.min(p.right, q.right) - Math.max(p.left, q.left) > 1 &&
        Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 1));
      if (hit) problems.push(`${name(a)} overlaps ${name(b)}`);
    }
  }
  return problems;
}
