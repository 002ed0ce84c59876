"""The layout of a :class:`~metak.plots._table.Table`: which columns fit and how wide each is,
and how many rows tall the figure is."""

from __future__ import annotations

from dataclasses import dataclass

from ._table import Column, Footer, Panel, Row, Table
from ._text import text_width, wrap

AXIS_ROWS = 1.3       # below a panel: ticks and tick labels
FAVOURS_ROWS = 1.05    # one line of favours labels or an x label


PANEL_PAD = 7.0   # points kept free inside each side of a panel for its end tick labels


def plan_columns(table: Table, width_pt: float, fontsize: float) -> list:
    """Measure the columns, drop those that leave the panels too little room, and give each
    column its width in points (:class:`_Measured`, in drawing order).

    A panel needs at least its header's width (its hard minimum) and asks for
    ``min_width``; droppable columns (text or panel) go, lowest ``drop`` first, until every
    panel gets what it asks for.  The room left is shared among the panels by ``share``.
    """
    gap = COLUMN_GAP * fontsize
    measured = measure(table, fontsize)
    measured = _drop_and_share(measured, width_pt, gap)
    return measured


def measure(table: Table, fontsize: float) -> list:
    """Each column's widths before any is dropped (:class:`_Measured`, in drawing order)."""
    first = table.columns[0].key if table.columns else None
    measured = []
    for c in table.columns:
        if isinstance(c, Panel):
            hard = max(text_width(c.header, fontsize, "bold"), 30.0)
            measured.append(_Measured(c, hard, max(hard, c.min_width * fontsize / 7.0)))
            continue
        widths = [text_width(c.header, fontsize, "bold")]
        if not c.group_overflow:
            widths.append(text_width(c.group, fontsize, "bold"))
        for r in table.rows:
            s = r.cells.get(c.key, "")
            if s and not (r.span and c.key == first):
                f = cell_font(r, fontsize)
                widths += [text_width(line, fontsize, f["fontweight"], f["fontstyle"])
                           for line in s.split("\n")]
        w = max(widths)
        measured.append(_Measured(c, w, w))
    return measured


def _drop_and_share(measured: list, width_pt: float, gap: float) -> list:
    def need(hard_panels: bool) -> float:
        return sum(m.width if (m.is_panel and hard_panels) else m.soft for m in measured) \
            + gap * (len(measured) - 1)

    # text columns go while the panels lack the room they ask for; a panel goes only
    # when even its header would not fit
    for panel_phase in (False, True):
        while need(panel_phase) > width_pt:
            droppable = [m.spec.drop for m in measured
                         if m.spec.drop is not None and m.is_panel == panel_phase]
            if not droppable:
                break
            lowest = min(droppable)
            measured = [m for m in measured
                        if not (m.spec.drop == lowest and m.is_panel == panel_phase)]
    panels = [m for m in measured if m.is_panel]
    free = width_pt - sum(m.width for m in measured if not m.is_panel) - gap * (len(measured) - 1)
    hard = sum(m.width for m in panels)
    shares = sum(m.spec.share for m in panels) or 1.0
    for m in panels:
        if free >= hard:
            m.width = m.width + (free - hard) * m.spec.share / shares
        else:
            m.width = max(m.width * free / hard, 10.0) if hard > 0 else 10.0
    return measured


def layout_rows(table: Table, fontsize: float, width_pt: float | None = None) -> float:
    """Height of a table in rows (of ``1.5 * fontsize`` points), header to footer.

    With ``width_pt``, the columns that will be dropped and the footer lines that will be
    wrapped at that width are accounted for."""
    if width_pt is not None:
        cols = plan_columns(table, width_pt, fontsize)
        keys = {c.spec.key for c in cols}
        table = Table(tuple(c.spec for c in cols), table.rows,
                      tuple(f for f in table.footer if f.requires is None or f.requires in keys))
    n_header = 2 if any(c.group for c in table.columns) or any(
        isinstance(c, Panel) and c.legend for c in table.columns) else 1
    panels = [c for c in table.columns if isinstance(c, Panel)]
    below = 0.0
    if panels:
        below = AXIS_ROWS + (FAVOURS_ROWS if any(p.favours or p.xlabel for p in panels) else 0)
    n_footer = 0.0
    for f in table.footer:
        n = len(wrap(f.text, width_pt, fontsize * 0.93)) if width_pt else 1
        n_footer += n * 1.05
    return n_header + 0.35 + table.n_rows + 0.25 + below + (0.4 + n_footer if n_footer else 0) + 0.3


def row_height_pt(fontsize: float) -> float:
    return 1.5 * fontsize


COLUMN_GAP = 0.8   # gap between columns, in font sizes


@dataclass
class _Measured:
    spec: object
    width: float        # text: widest cell; panel: hard minimum, then the width allocated
    soft: float         # the width asked for before dropping columns

    @property
    def is_panel(self) -> bool:
        return isinstance(self.spec, Panel)


def cell_font(row: Row, fontsize: float) -> dict:
    return {"fontsize": fontsize, "fontweight": "bold" if row.bold else "normal",
            "fontstyle": "italic" if row.italic else "normal"}


# --------------------------------------------------------------------------- degrading by rule

#: the smallest text a figure is shrunk to before a column may go (journals accept 5-8 pt)
MIN_FONT = 5.5
#: the narrowest the label column is wrapped to, as a share of the width
MIN_LABEL_SHARE = 0.25


def _need(table: Table, fontsize: float, scale: float) -> tuple[float, float]:
    """(width every column asks for, width of the first column), nothing dropped; panels ask
    for ``min_width`` scaled with the text."""
    gap = COLUMN_GAP * fontsize
    measured = measure(table, fontsize)
    total = sum(m.soft for m in measured)
    first = measured[0].soft if measured and not measured[0].is_panel else 0.0
    return total + gap * (len(measured) - 1), first


def wrap_labels(table: Table, fontsize: float, max_width: float) -> Table:
    """The first (label) column's cells wrapped to ``max_width`` points, each wrapped row made
    taller so its lines fit (a label is never cut: "…[turner2015/mental-healt")."""
    from dataclasses import replace

    if not table.columns or isinstance(table.columns[0], Panel):
        return table
    key = table.columns[0].key
    rows = []
    for r in table.rows:
        s = r.cells.get(key, "")
        f = cell_font(r, fontsize)
        head, _, rest = s.partition("\n")
        if not s or r.span or \
                text_width(head, fontsize, f["fontweight"], f["fontstyle"]) <= max_width:
            rows.append(r)
            continue
        lines = _wrap_words(head, max_width, fontsize, f["fontweight"], f["fontstyle"])
        lines += rest.split("\n") if rest else []
        rows.append(replace(r, cells={**r.cells, key: "\n".join(lines)},
                            height=max(r.height, 1.0 + 0.8 * (len(lines) - 1))))
    return Table(table.columns, tuple(rows), table.footer)


def _wrap_words(s: str, width: float, fontsize: float, weight: str, style: str) -> list[str]:
    lines, cur = [], ""
    for word in s.split(" "):
        trial = f"{cur} {word}" if cur else word
        if cur and text_width(trial, fontsize, weight, style) > width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


def stack_arms(table: Table) -> Table:
    """Move the two arm-data columns (``exp``, ``ctl``) below the label: each row's label gets
    a second line "13/27 vs 5/28" and the label column's group line says what it is
    ("n/N: Ketamine vs Midazolam") — the data stay, in a narrower table."""
    from dataclasses import replace

    keys = [c.key for c in table.columns if isinstance(c, Column) and c.key in ("exp", "ctl")]
    if not keys or not table.columns or isinstance(table.columns[0], Panel):
        return table
    first = table.columns[0]
    arms = [c for c in table.columns if c.key in keys]
    names = " vs ".join(c.group for c in arms if c.group)
    note = f"Under each label: {arms[0].header}" + (f", {names}" if names else "") + "."
    columns = tuple(c for c in table.columns if c.key not in keys)
    rows = []
    for r in table.rows:
        data = [r.cells.get(k, "") for k in keys]
        if not any(data) or r.span:
            rows.append(r)
            continue
        line = " vs ".join(d or "\u2013" for d in data)
        label = r.cells.get(first.key, "")
        text = f"{label}\n{line}" if label else line
        cells = {k: v for k, v in r.cells.items() if k not in keys}
        cells[first.key] = text
        rows.append(replace(r, cells=cells, height=max(r.height, 1.0 + 0.8 * (text.count("\n")))))
    return Table(columns, tuple(rows), (Footer(note),) + tuple(table.footer))


def fit_to_width(table: Table, width_pt: float, fontsize: float) -> tuple[Table, float]:
    """Make ``table`` fit ``width_pt`` by rule, never by losing data while a rule is left, in
    this order: shrink the text in half points to 6 pt; wrap the label column (down to
    :data:`MIN_LABEL_SHARE` of the width); move the arm-data columns below the labels
    (:func:`stack_arms`); shrink to :data:`MIN_FONT`.  Only a table that fits none of these
    has columns dropped (by :func:`plan_columns`, in their stated order)."""
    sizes = [fontsize - 0.5 * i for i in range(int((fontsize - MIN_FONT) / 0.5 + 1e-9) + 1)]
    sizes = sizes or [fontsize]
    candidates = []
    for size in sizes:
        rules = ("plain",) if size > 6.0 + 1e-9 else ("plain", "wrap", "stack")
        candidates += [(size, rule) for rule in rules]
    best = (table, fontsize)
    for size, rule in candidates:
        t = table
        if rule == "stack":
            t = stack_arms(table)
            if t is table:
                continue
        need, first = _need(t, size, size / 7.0)
        if need > width_pt and rule != "plain":
            target = max(first - (need - width_pt), MIN_LABEL_SHARE * width_pt)
            if target < first:
                t = wrap_labels(t, size, target)
            need = _need(t, size, size / 7.0)[0]
        best = (t, size)
        if need <= width_pt:
            return best
    return best
