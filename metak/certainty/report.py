"""The certainty rows of the report's summary-of-findings table, as GRADEpro writes them: the
overall certainty with its symbols and footnote letters, the domains, and the footnotes. Read
from the ``certainty`` record (:class:`metak.certainty.Certainty`, by :func:`metak.typed.records`)."""

from __future__ import annotations

import dataclasses

#: the row of the summary-of-findings table a GRADE certainty rating fills
CERTAINTY_ROW = "Certainty of the evidence (GRADE)"

WORD = {"not_serious": "not serious", "serious": "serious", "very_serious": "very serious",
        "not_assessed": "not assessed"}


def sof_rows(ma: dict) -> list[tuple[str, str]]:
    from ..typed import records

    c = records(ma).get("certainty")
    if not c:
        return []
    domains = {f.name: getattr(c.domains, f.name) for f in dataclasses.fields(c.domains)}
    notes = list(c.footnotes or ())
    letters = {}
    for note in notes:  # "a. Rated down one level for inconsistency: ..." -> domain -> "a"
        letter, _, rest = note.partition(". ")
        for name in domains:
            if f" for {name.replace('_', ' ')}" in rest.split(":")[0]:
                letters[name] = letter
    overall = c.overall.replace("_", " ")
    head = f"{c.symbols} {overall[0].upper()}{overall[1:]}"
    if letters:
        head += " (" + ", ".join(letters.values()) + ")"
    doms = "; ".join(f"{name.replace('_', ' ')}: {WORD.get(d.rating, d.rating)}"
                     + (f" ({letters[name]})" if name in letters else "") for name, d in domains.items())
    rows = [(CERTAINTY_ROW, head), ("GRADE domains", doms)]
    if notes:
        rows.append(("Footnotes", "\n".join(notes)))
    return rows
