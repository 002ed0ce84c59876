"""The registry in words, for ``metak analyze --help``: the analyses with their parameters and
the figures with what they need (the figures' needs are put in words by
:mod:`metak.figure_needs`, from the registry's entries)."""

from __future__ import annotations

from .figure_needs import needs_text
from .registry import FIGURES, KEYED, SENSITIVITY


def figure_text(f) -> str:
    """What the figure ``f`` needs, in words, with the spec keys that ask for it."""
    text = needs_text(f.needs) if f.needs else ""
    return f"{text}; {f.note}" if text and f.note else text


def help_text() -> str:
    """The analyses and figures, for ``metak analyze --help``."""
    lines = ["Sensitivity analyses (sensitivity: [...]):"]
    for k in SENSITIVITY.values():
        params = ", ".join(f"{p.name}: {'|'.join(p.choices) if p.choices else p.kind}"
                           + (f" (default {p.default})" if p.default is not None else "") for p in k.params)
        lines.append(f"  {k.name:16} {k.summary}" + (f"; parameters {params}" if params else ""))
    lines.append("Analyses by their own key (<name>: {parameters}):")
    for k in KEYED.values():
        if k.asked_by:
            continue
        params = ", ".join(f"{p.name}: {'|'.join(p.choices) if p.choices else p.kind}" for p in k.params)
        lines.append(f"  {k.name:16} {k.summary}; parameters {params}; needs {k.needs}")
    lines.append("Analyses asked for by the meta-analysis's keys:")
    for k in KEYED.values():
        if k.asked_by:
            lines.append(f"  {k.name:16} {k.summary}; asked for by {', '.join(k.asked_by)}")
    lines.append("Figures (figures: [...]):")
    for f in FIGURES.values():
        lines.append(f"  {f.name:16} {f.summary}" + (f" (needs {figure_text(f)})" if figure_text(f) else ""))
    return "\n".join(lines)
