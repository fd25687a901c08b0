"""One HTML report from the parts of a parallel run.

Each part runs ``-f rbee_bdd.reports.html:HTMLPart -o <parts>/html-{part}.jsonl``: the pretty
formatter (behave-html-pretty-formatter) renders each of its features, with their embedded
logs and timelines, into a fragment, and the fragments are written as JSON lines instead of
a page. ``page()`` then puts every part's fragments, in feature-file order, into one page
with the formatter's own stylesheet and script, under a summary of the run.
"""

from __future__ import annotations

import html
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import behave_html_pretty_formatter
from behave_html_pretty_formatter.html_pretty import PrettyHTMLFormatter
from dominate.tags import div

from rbee_bdd.core.identity import PART_ENV

ASSETS = Path(behave_html_pretty_formatter.__file__).parent


def part_number(name: str) -> int:
    """part203 → 203 (shard 2, part 3), so feature ids stay unique across parts and shards; else 0."""
    found = re.fullmatch(r"part(\d+)", name)
    return int(found.group(1)) if found else 0


class HTMLPart(PrettyHTMLFormatter):  # type: ignore[misc]  # the formatter package has no type hints
    """The pretty formatter, writing its rendered features as fragments for ``page()``."""

    name = "rbee-html-part"
    description = "pretty HTML features as JSON lines, to be merged into one page"

    def __init__(self, stream_opener: Any, config: Any) -> None:
        super().__init__(stream_opener, config)
        self.feature_counter = 1000 * part_number(os.environ.get(PART_ENV, "part0"))

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        if self.current_feature:
            self.current_feature.finish_time = datetime.now()
        for feature in self.features:
            with div() as holder:
                feature.generate_feature(self)
            record = {"file": os.path.relpath(feature.location.filename), "line": feature.location.line,
                      "html": holder.render(pretty=False)}
            self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()


def read_fragments(parts: list[Path]) -> list[dict[str, Any]]:
    records = [json.loads(line) for part in parts if part.exists()
               for line in part.read_text().splitlines() if line.strip()]
    return sorted(records, key=lambda r: (r["file"], r["line"]))


def page(parts: list[Path], title: str, summary_html: str) -> str:
    """The whole report: the formatter's stylesheet and script, the summary, every feature."""
    css = (ASSETS / "behave.min.css").read_text(encoding="utf-8")
    script = (ASSETS / "behave.min.js").read_text(encoding="utf-8")
    body = "\n".join(record["html"] for record in read_fragments(parts))
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{css}</style>"
            f"<script type=\"text/javascript\">{script}</script></head>"
            f"<body onload=\"body_onload();\">{summary_html}\n{body}</body></html>\n")
