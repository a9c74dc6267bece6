// Pairs of texts of one chart whose glyph boxes intersect (rotation included), and texts cut
// off by the chart's edge: [chart id, text, other text]. Shared by the report's browser tests.
(() => {
  // Each visible text of a chart as the quadrilateral it covers on screen (rotation included).
  const quad = t => {
    const b = t.getBBox(), m = t.getScreenCTM();
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
      .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  };
  const shrink = (q, by) => {  // glyph boxes include leading: 1 px off each side
    const cx = q.reduce((s, p) => s + p[0], 0) / 4, cy = q.reduce((s, p) => s + p[1], 0) / 4;
    return q.map(([x, y]) => {
      const dx = x - cx, dy = y - cy, d = Math.hypot(dx, dy) || 1;
      return [x - dx / d * by, y - dy / d * by];
    });
  };
  const separated = (p, q) => {  // separating axis theorem on two convex quadrilaterals
    for (const poly of [p, q])
      for (let i = 0; i < 4; i++) {
        const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % 4];
        const nx = y2 - y1, ny = x1 - x2;
        const pp = p.map(([x, y]) => nx * x + ny * y), qq = q.map(([x, y]) => nx * x + ny * y);
        if (Math.max(...pp) <= Math.min(...qq) || Math.max(...qq) <= Math.min(...pp)) return true;
      }
    return false;
  };
  const found = [];
  for (const chart of document.querySelectorAll('.plotly-graph-div')) {
    const texts = [...chart.querySelectorAll('svg text')].filter(t => {
      if (!t.textContent.trim() || t.closest('.hoverlayer, .modebar')) return false;
      const s = getComputedStyle(t);
      return s.display !== 'none' && s.visibility !== 'hidden' && Number(s.opacity) > 0 &&
             t.getBBox().width > 0;
    });
    const quads = texts.map(t => shrink(quad(t), 1.5));
    // A text cut off by the chart's edge (a title longer than the chart) is unreadable too.
    const edge = chart.querySelector('svg.main-svg').getBoundingClientRect();
    texts.forEach((t, i) => {
      if (quads[i].some(([x, y]) => x < edge.left - 1 || x > edge.right + 1 ||
                                    y < edge.top - 1 || y > edge.bottom + 1))
        found.push([chart.id, t.textContent.trim().slice(0, 40), '(past the edge of the chart)']);
    });
    for (let i = 0; i < texts.length; i++)
      for (let j = i + 1; j < texts.length; j++)
        if (!separated(quads[i], quads[j]))
          found.push([chart.id, texts[i].textContent.trim().slice(0, 40),
                      texts[j].textContent.trim().slice(0, 40)]);
  }
  return found;
})()
