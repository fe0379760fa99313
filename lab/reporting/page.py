"""The report as a page, written out as self-contained HTML, as Markdown, or as text; and how
every figure is written: cut, never rounded up, so none reads better than measured.

`Page` is what the report says, in order: sections of paragraphs, bullet points, tables and
charts; `lab.reporting.report` fills it from the results. `render_html` writes one HTML file with
inline CSS and every chart embedded as a base64 data URI, so it opens offline and can be
mailed as it is; `render_markdown` links the chart files instead; `text_table` lays a table
out for a terminal.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from html import escape
from pathlib import Path


def figure(value: float | None, digits: int = 2, unit: str = "") -> str:
    """`value` with `digits` decimals, cut (not rounded) so it never reads better than measured:
    0.8996 is "0.89", never "0.90". None and non-finite values read "n/a"."""
    if value is None or not math.isfinite(value):
        return "n/a"
    # 12 significant digits first, so 0.9 computed as 0.8999999999999999 stays 0.9
    cut = Decimal(f"{value:.12g}").quantize(Decimal(1).scaleb(-digits), rounding=ROUND_DOWN)
    text = f"{abs(cut) if cut.is_zero() else cut:f}"
    return f"{text} {unit}" if unit else text


def change(before: float | None, after: float | None, digits: int = 1) -> str:
    """Relative change as a signed percentage: "+5.7 %", "-17.0 %"."""
    if before is None or after is None or before == 0:
        return "n/a"
    text = figure((after - before) / abs(before) * 100, digits)
    return f"{'' if text.startswith('-') else '+'}{text} %"


def percent(fraction: float | None, digits: int = 1) -> str:
    return "n/a" if fraction is None else figure(fraction * 100, digits, "%")


@dataclass(frozen=True, kw_only=True)
class Table:
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Rows to draw attention to (unsound runs, missed targets), by index.
    flagged: frozenset[int] = frozenset()
    note: str = ""
    #: The HTML id, for links and for tests that find the table in a browser.
    id: str = ""


@dataclass(frozen=True, kw_only=True)
class Image:
    title: str
    path: Path


@dataclass(frozen=True, kw_only=True)
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    #: Bullets under subheadings: (subheading, bullets), after the plain bullets.
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tables: tuple[Table, ...] = ()
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Page:
    title: str
    #: Lines under the title: command, machine, dates.
    facts: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]


_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.3em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em;
           color: #444; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 0.8em 0 1.4em; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.7em; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; }
tr.flagged td { background: #fde8e8; }
p.note { color: #555; font-size: 0.9em; margin-top: -1em; }
ul.verdict li { margin-bottom: 0.3em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
code { background: #f3f3f3; padding: 0 0.25em; border-radius: 3px; }
"""


def render_html(page: Page) -> str:
    """The page as one HTML document that needs nothing beside it."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(page.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(page.title)}</h1>",
        '<dl class="facts">',
        *(f"<dt>{escape(k)}</dt><dd>{_inline(v)}</dd>" for k, v in page.facts),
        "</dl>",
    ]
    for section in page.sections:
        parts += _section(section)
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _section(section: Section) -> list[str]:
    slug = "".join(c if c.isalnum() else "-" for c in section.title.lower()).strip("-")
    parts = [f'<section id="{escape(slug)}">', f"<h2>{escape(section.title)}</h2>"]
    parts += [f"<p>{_inline(p)}</p>" for p in section.paragraphs]
    css = ' class="verdict"' if section.title.lower().startswith("verdict") else ""
    if section.bullets:
        parts += [f"<ul{css}>", *(f"<li>{_inline(b)}</li>" for b in section.bullets), "</ul>"]
    for heading, bullets in section.groups:
        parts += [f"<h3>{escape(heading)}</h3>", f"<ul{css}>"]
        parts += [*(f"<li>{_inline(b)}</li>" for b in bullets), "</ul>"]
    for table in section.tables:
        parts += _table(table)
    parts += [_figure(image) for image in section.images]
    parts.append("</section>")
    return parts


def numeric_columns(table: Table) -> list[bool]:
    """Columns holding figures, to be right-aligned; the first column is always a label."""

    def figure_like(cell: str) -> bool | None:
        if cell in ("", "–", "n/a", "none"):
            return None
        return cell[0].isdigit() or (cell[0] in "+-" and cell[1:2].isdigit())

    out = [False]
    for i in range(1, len(table.header)):
        kinds = [figure_like(row[i]) for row in table.rows]
        out.append(any(kinds) and all(k is not False for k in kinds))
    return out


def _table(table: Table) -> list[str]:
    ident = f' id="{escape(table.id)}"' if table.id else ""
    parts = [f"<table{ident}>", f"<caption>{escape(table.caption)}</caption>", "<thead><tr>"]
    parts += [f'<th scope="col">{escape(h)}</th>' for h in table.header]
    parts += ["</tr></thead>", "<tbody>"]
    align = [' class="num"' if numeric else "" for numeric in numeric_columns(table)]
    for i, row in enumerate(table.rows):
        css = ' class="flagged"' if i in table.flagged else ""
        cells = "".join(f"<td{a}>{escape(cell)}</td>" for a, cell in zip(align, row, strict=True))
        parts.append(f"<tr{css}>{cells}</tr>")
    parts += ["</tbody>", "</table>"]
    if table.note:
        parts.append(f'<p class="note">{_inline(table.note)}</p>')
    return parts


def _figure(image: Image) -> str:
    data = base64.b64encode(image.path.read_bytes()).decode("ascii")
    title = escape(image.title)
    return (
        f'<figure id="chart-{escape(image.path.stem)}">'
        f'<img src="data:image/png;base64,{data}" alt="{title}">'
        f"<figcaption>{title}</figcaption></figure>"
    )


def _inline(text: str) -> str:
    """Escaped text, with `backticks` as <code> as in the Markdown version."""
    pieces = escape(text).split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick is just a character
        return escape(text)
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def render_markdown(page: Page, folder: Path) -> str:
    out = [f"# {page.title}", ""]
    out += [f"- **{k}:** {v}" for k, v in page.facts]
    for section in page.sections:
        out += ["", f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            out += [paragraph, ""]
        out += [f"- {b}" for b in section.bullets]
        if section.bullets:
            out.append("")
        for heading, bullets in section.groups:
            out += [f"### {heading}", "", *(f"- {b}" for b in bullets), ""]
        for table in section.tables:
            out += [*_markdown_table(table), ""]
        for image in section.images:
            out += [f"![{image.title}]({_relative(image.path, folder)})", ""]
    return "\n".join(out).rstrip() + "\n"


def _markdown_table(table: Table) -> list[str]:
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") or " " for c in cells) + " |"

    out = [f"**{table.caption}**", "", row(table.header)]
    out.append("| " + " | ".join("---:" if n else "---" for n in numeric_columns(table)) + " |")
    for i, cells in enumerate(table.rows):
        first = ("✗ " if i in table.flagged else "") + cells[0]
        out.append(row([first, *cells[1:]]))
    if table.note:
        out += ["", f"_{table.note}_"]
    return out


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.as_posix()


def text_table(table: Table) -> list[str]:
    """A table in fixed-width columns, for a terminal."""
    lines = [table.header, *table.rows]
    widths = [max(len(row[i]) for row in lines) for i in range(len(table.header))]

    numeric = numeric_columns(table)

    def line(row: Sequence[str]) -> str:
        cells = [
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(row, widths, numeric, strict=True)
        ]
        return "  ".join(cells).rstrip()

    out = [table.caption, line(table.header), "  ".join("-" * w for w in widths)]
    out += [line(row) + ("  ✗" if i in table.flagged else "") for i, row in enumerate(table.rows)]
    return out + ([f"({table.note})"] if table.note else [])
