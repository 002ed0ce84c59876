"""MkDocs hook: the results.json schema page shows the schema metak validates against, read
from the package (metak/schema/results.schema.json) at build time, so the two cannot differ."""

from pathlib import Path

SCHEMA = Path(__file__).resolve().parent.parent / "metak" / "schema" / "results.schema.json"


def on_page_markdown(markdown, page, config, files):
    if "{{ results_schema }}" in markdown:
        return markdown.replace("{{ results_schema }}", SCHEMA.read_text(encoding="utf-8").rstrip())
    return markdown
