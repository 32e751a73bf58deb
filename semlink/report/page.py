"""A report's sections written twice from one description: as ``report.md`` and as
``report.html`` (one page, relative links, readable from a phone to a wide screen: the table
scrolls inside its own box instead of running off the page, figures shrink to fit)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from semlink.report.tables import INTERVAL_OPEN, Table


@dataclass(frozen=True)
class Figure:
    """A figure of the report: its PNG, its PDF and the caption under it."""

    png: str
    pdf: str
    caption: str


@dataclass
class Section:
    """A titled part of a report: paragraphs, a bullet list, figures, a table, a warning (its first
    line says what happened, the others are listed)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    table: Table | None = None
    warning: list[str] = field(default_factory=list)


def markdown_page(title: str, sections: Sequence[Section]) -> str:
    """The report as markdown."""
    lines = [f"# {title}", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        lines += [line for text in section.paragraphs if text for line in (text, "")]
        if section.items:
            lines += [*(f"- {item}" for item in section.items), ""]
        for figure in section.figures:
            alt = figure.png.removesuffix(".png").replace("_", " ")
            lines += [f"![{alt}]({figure.png}) ([PDF]({figure.pdf}))", "", f"*{figure.caption}*", ""]
        if section.table is not None:
            lines += [*markdown_table(section.table), ""]
        if section.warning:
            lines += [section.warning[0], "", *(f"- {line}" for line in section.warning[1:]), ""]
    return "\n".join(lines)


def markdown_table(table: Table) -> list[str]:
    """The lines of a markdown table."""
    lines = ["| " + " | ".join(table.headings) + " |", "|" + "---|" * len(table.columns)]
    return lines + ["| " + " | ".join(text.replace("|", "\\|") for text in row) + " |" for row in table.cells]


PAGE_STYLE = (
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em;max-width:100%;color:#222;line-height:1.4}"
    "p,li,figcaption{overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto;border:1px solid #ddd}"
    "figure{margin:1.5em 0;max-width:100%}figcaption{color:#444;font-size:0.9em;max-width:70em}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;font-size:0.85em}"
    "td,th{border:1px solid #ccc;padding:0.2em 0.35em;text-align:right;vertical-align:top}"
    "td span{white-space:nowrap}td .ci{font-size:0.85em;color:#555}"
    "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    ".warning{background:#fff4e5;border-left:4px solid #f0a020;padding:0.5em 1em}"
)
LOADED_SCRIPT = (
    "window.addEventListener('load',function(){var i=document.images,n=0,w=0;"
    "for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0){n++;}}"
    "document.body.setAttribute('data-images-loaded',n+'/'+i.length);"
    "var s=document.querySelectorAll('.scroll');"
    "for(var k=0;k<s.length;k++){w=Math.max(w,s[k].scrollWidth-s[k].clientWidth);}"
    "document.body.setAttribute('data-table-overflow-px',w);});"
)
"""Marks the page with how many of its figures loaded (a missing PNG shows as ``1/2``) and by how
many pixels its widest table overflows its box (0 when every column shows without scrolling)."""


def inline(text: str) -> str:
    """Markdown's inline ``code`` and **bold** as HTML, the rest escaped."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def html_page(title: str, sections: Sequence[Section]) -> str:
    """The report as one HTML page with the same sections as the markdown."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{inline(text)}</p>" for text in section.paragraphs if text]
        if section.items:
            parts.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in section.items) + "</ul>")
        parts += [html_figure(figure) for figure in section.figures]
        if section.table is not None:
            parts.append(html_table(section.table))
        if section.warning:
            items = "".join(f"<li>{inline(line)}</li>" for line in section.warning[1:])
            parts.append(f'<div class="warning"><p>{inline(section.warning[0])}</p><ul>{items}</ul></div>')
        parts.append("</section>")
    parts.append(f"<script>{LOADED_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def html_figure(figure: Figure) -> str:
    """A figure: the PNG, a link to the PDF and the caption."""
    alt = html.escape(figure.png.removesuffix(".png").replace("_", " "))
    return (
        f'<figure><img src="{html.escape(figure.png)}" alt="{alt}">'
        f'<figcaption>{inline(figure.caption)} (<a href="{html.escape(figure.pdf)}">PDF</a>)</figcaption></figure>'
    )


def html_cell(text: str) -> str:
    """A cell's value and its interval, each kept on one line; the cell may break between them
    (so a wide table narrows instead of running off the page)."""
    value, bracket, interval = text.partition(INTERVAL_OPEN)
    shown = f"<span>{html.escape(value)}</span>"
    return f'{shown} <span class="ci">[{html.escape(interval)}</span>' if bracket else shown


def html_table(table: Table) -> str:
    """The table in a box that scrolls sideways only when it is wider than the page even with its
    headings and intervals wrapped."""
    head = "".join(f"<th>{html.escape(text)}</th>" for text in table.headings)
    body = "".join("<tr>" + "".join(f"<td>{html_cell(text)}</td>" for text in row) + "</tr>" for row in table.cells)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
