"""Printable A4 outreach posters: one per outreach link, as a PNG and as a PDF.

A poster says who is behind it (the union), what the bot does for a worker, that a report can
be anonymous, and how to reach the bot: a large QR code, the link's code to type on Zalo, and
the links themselves. Both formats are drawn from the same page `layout`, in millimetres:

    with services.catalogs.activate(poster.language):
        picture = posters.png(poster, settings.content_dir / "fonts")
        document = posters.pdf(poster, settings.content_dir / "fonts")

The caller activates the poster's language (the texts are msgids translated with `_()` where
they are drawn, as everywhere else); `fonts` is the folder holding DejaVu Sans (regular and
bold), whose glyphs cover every Vietnamese letter and tone mark. Before anything is drawn,
every text on the page is checked against its font: a character the font lacks raises
PosterError instead of printing as an empty box. Long union names and labels wrap (and
shrink); a poster whose texts cannot fit on one page at the smallest sizes raises PosterError.

The PDF holds real text in the embedded (subset) font, so it can be searched and read back;
the QR code is drawn in vectors in the PDF and in pixels in the PNG (150 dpi, 1240x1754).
The QR code uses error correction level Q (a poster on a wall gets torn and dirty) and keeps
its quiet zone of 4 modules clear; the symbol is 9 cm wide.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import segno
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from bot.services.i18n import N_, _

REGULAR = "DejaVuSans.ttf"
BOLD = "DejaVuSans-Bold.ttf"

PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4, mm
MARGIN = 15.0  # inside what office printers can reach
WIDTH = PAGE_WIDTH - 2 * MARGIN
PT = 25.4 / 72  # mm in a typographic point
LEADING = 1.25  # line height, in font sizes
DPI = 150
QR_SIDE = 90.0  # mm, the symbol without its quiet zone: scans from two metres
QUIET_ZONE = 4  # modules
MIN_GAP, MAX_GAP = 4.0, 12.0  # mm between sections; what is left goes above and below

Colour = tuple[int, int, int]
BLUE: Colour = (16, 63, 122)
RED: Colour = (196, 30, 45)
INK: Colour = (20, 20, 20)
GREY: Colour = (85, 85, 85)
PANEL: Colour = (231, 239, 250)
BLACK: Colour = (0, 0, 0)

TITLE = N_("The union is always by your side")
DOES = (
    N_("Ask about pay, social insurance, leave and your rights"),
    N_("Report a problem at work, anonymously if you wish"),
    N_("Sign up to join the union"),
)
PROMISE = N_(
    "You can send a report anonymously: officers do not see your name, account or phone. "
    "The assistant never tells your company that you wrote to the union."
)
SCAN = N_("Scan the QR code with Zalo or Telegram")
CODE = N_("Code: {code}")
TICK = "✓"
ELLIPSIS = "…"


class PosterError(ValueError):
    """A poster that cannot be printed as asked: a glyph the font lacks, or too much text."""


@dataclass(frozen=True)
class Poster:
    """What one poster shows. `links` are (name, URL) pairs printed under the QR code, e.g.
    ("Telegram", "https://t.me/congdoan_bot?start=k7m2x9qa"); empty for a channel that is not
    configured. A URL is printed without its "https://", which nobody needs to type.
    `language` is the one the caller activates around png()/pdf()."""

    union: str
    label: str
    qr_url: str
    links: tuple[tuple[str, str], ...]
    code: str
    language: str = "vi"


# ---------------------------------------------------------------------------- the page


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text: (x, y) is where its baseline starts, in mm; width is measured."""

    x: float
    y: float
    text: str
    size: float  # points
    bold: bool
    colour: Colour
    width: float


@dataclass(frozen=True, slots=True)
class Shape:
    """Rectangles (x, y, width, height in mm) filled in one colour, as one piece."""

    rects: tuple[tuple[float, float, float, float], ...]
    colour: Colour
    radius: float = 0.0


Op = Text | Shape


@dataclass(frozen=True, slots=True)
class Block:
    """A section of the page drawn from y = 0 down to `height`, placed later."""

    height: float
    ops: tuple[Op, ...]

    def at(self, top: float) -> Iterator[Op]:
        for op in self.ops:
            if isinstance(op, Text):
                yield replace(op, y=op.y + top)
            else:
                yield replace(op, rects=tuple((x, y + top, w, h) for x, y, w, h in op.rects))


@dataclass(frozen=True, slots=True)
class Style:
    """Font sizes (largest, smallest, in points) and most lines of each text."""

    union: tuple[float, float, int] = (20, 14, 3)
    label: tuple[float, float, int] = (14, 11, 3)
    does: tuple[float, float, int] = (18, 14, 2)
    links: tuple[float, float, int] = (12, 9, 2)
    promise: tuple[float, float, int] = (14, 10, 4)


# Tried in turn until the texts fit on the page.
STYLES = (
    Style(),
    Style(
        union=(16, 11, 3),
        label=(12, 9, 2),
        does=(14, 10, 1),
        links=(10, 8, 1),
        promise=(11, 9, 4),
    ),
)


def layout(poster: Poster, fonts: Path) -> list[Op]:
    """The page, top to bottom, in mm: header, what the bot does, the QR code with the
    instruction and the code, the links, the anonymity promise. Texts are translated with
    `_()` in the active language and checked against the fonts (PosterError)."""
    for style in STYLES:
        sections = [
            _header(poster, fonts, style),
            _does(fonts, style),
            _qr(poster, fonts),
            *([_links(poster.links, fonts, style)] if poster.links else []),
            _promise(fonts, style),
        ]
        free = PAGE_HEIGHT - 2 * MARGIN - sum(s.height for s in sections)
        if free >= MIN_GAP * (len(sections) - 1):
            break
    else:
        raise PosterError("the poster's texts do not fit on one page")
    gap = min(free / (len(sections) - 1), MAX_GAP)
    top = MARGIN + (free - gap * (len(sections) - 1)) / 2
    ops: list[Op] = []
    for section in sections:
        ops.extend(section.at(top))
        top += section.height + gap
    _check_glyphs(ops, fonts)
    return ops


def missing_glyphs(text: str, font: Path) -> set[str]:
    """The characters of `text` (in NFC, as posters draw it) that `font` has no glyph for;
    whitespace is left out, since lines are broken there."""
    have = _metrics(font).advances
    return {c for c in unicodedata.normalize("NFC", text) if ord(c) not in have and not c.isspace()}


def _check_glyphs(ops: list[Op], fonts: Path) -> None:
    for bold in (False, True):
        drawn = " ".join(op.text for op in ops if isinstance(op, Text) and op.bold == bold)
        missing = missing_glyphs(drawn, _font(fonts, bold))
        if missing:
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in sorted(missing))
            raise PosterError(f"the font {_font(fonts, bold).name} has no glyph for {shown}")


# ---------------------------------------------------------------------------- sections


def _header(poster: Poster, fonts: Path, style: Style) -> Block:
    """The headline, the union's name and the link's label, centred, over a short red rule."""
    parts = [
        _paragraph(_(TITLE), fonts, (30, 20, 1), bold=True, colour=BLUE),
        _paragraph(poster.union, fonts, style.union, bold=True, colour=INK),
        _paragraph(poster.label, fonts, style.label, bold=False, colour=GREY),
    ]
    ops: list[Op] = []
    y = 0.0
    for part in parts:
        ops.extend(part.at(y))
        y += part.height + 2.5
    rule = 40.0
    ops.append(Shape(((MARGIN + (WIDTH - rule) / 2, y + 2.5, rule, 1.2),), RED))
    return Block(y + 3.7, tuple(ops))


def _does(fonts: Path, style: Style) -> Block:
    """The three things the bot does, each after a red tick, as a block centred on the page."""
    largest, smallest, most = style.does
    indent = largest * PT * 1.4
    texts = [_(line) for line in DOES]
    # One size for all three: the largest at which each fits on one line, else they wrap.
    size = min(
        _fit(text, fonts, False, (largest, smallest, 1), WIDTH - indent)[0] for text in texts
    )
    items = [_fit(text, fonts, False, (size, size, most), WIDTH - indent)[1] for text in texts]
    widest = max(
        (_width(line, fonts, False, size) for lines in items for line in lines), default=0.0
    )
    left = MARGIN + (WIDTH - indent - widest) / 2
    ops: list[Op] = []
    y = 0.0
    for lines in items:
        ops.append(_text(left, y + size * PT, TICK, fonts, size, True, RED))
        for line in lines:
            ops.append(_text(left + indent, y + size * PT, line, fonts, size, False, INK))
            y += size * PT * LEADING
        y += 1.5
    return Block(y - 1.5, tuple(ops))


def _qr(poster: Poster, fonts: Path) -> Block:
    """The QR code in its quiet zone, then how to scan it and the code to type instead."""
    try:
        matrix = segno.make(poster.qr_url, error="q", boost_error=False, micro=False).matrix
    except segno.DataOverflowError as error:
        raise PosterError("the link is too long for a QR code") from error
    module = QR_SIDE / len(matrix)
    quiet = QUIET_ZONE * module
    left = (PAGE_WIDTH - QR_SIDE) / 2
    rects = [
        (left + start * module, quiet + row * module, length * module, module)
        for row, cells in enumerate(matrix)
        for start, length in _runs(cells)
    ]
    scan = _paragraph(_(SCAN), fonts, (18, 13, 1), bold=True, colour=BLUE)
    code = _paragraph(_(CODE).format(code=poster.code), fonts, (24, 14, 1), bold=True, colour=INK)
    y = QR_SIDE + 2 * quiet
    ops: list[Op] = [Shape(tuple(rects), BLACK), *scan.at(y), *code.at(y + scan.height + 1.5)]
    return Block(y + scan.height + 1.5 + code.height, tuple(ops))


def _links(links: tuple[tuple[str, str], ...], fonts: Path, style: Style) -> Block:
    """Each link as "Name  address", names right-aligned in a column, centred as a block."""
    largest, smallest, most = style.links
    names = [f"{name}:" for name, _url in links]
    column = max(_width(name, fonts, True, largest) for name in names) + 2.5
    rows = [
        _fit(_printed(url), fonts, False, (largest, smallest, most), WIDTH - column)
        for _name, url in links
    ]
    widest = max(
        (_width(line, fonts, False, size) for size, lines in rows for line in lines), default=0.0
    )
    left = MARGIN + (WIDTH - column - widest) / 2
    ops: list[Op] = []
    y = 0.0
    for name, (size, lines) in zip(names, rows, strict=True):
        label = _text(0, y + size * PT, name, fonts, size, True, GREY)
        ops.append(replace(label, x=left + column - 2.5 - label.width))
        for line in lines:
            ops.append(_text(left + column, y + size * PT, line, fonts, size, False, INK))
            y += size * PT * LEADING
        y += 1.0
    return Block(y - 1.0, tuple(ops))


def _promise(fonts: Path, style: Style) -> Block:
    """The anonymity promise on a light panel across the page."""
    pad = 5.0
    text = _paragraph(
        _(PROMISE), fonts, style.promise, bold=False, colour=INK, width=WIDTH - 2 * pad
    )
    height = text.height + 2 * pad
    panel = Shape(((MARGIN, 0.0, WIDTH, height),), PANEL, radius=3.0)
    return Block(height, (panel, *text.at(pad)))


def _printed(url: str) -> str:
    return url.removeprefix("https://")


def _runs(cells: bytearray) -> Iterator[tuple[int, int]]:
    """(start, length) of each run of dark modules in a row of the QR matrix."""
    start = None
    for column, dark in enumerate([*cells, 0]):
        if dark and start is None:
            start = column
        elif not dark and start is not None:
            yield start, column - start
            start = None


# ---------------------------------------------------------------------------- text


@dataclass(frozen=True, slots=True)
class Metrics:
    """What layout needs of a font: each character's advance width, in ems."""

    advances: dict[int, float]


@cache
def _metrics(font: Path) -> Metrics:
    with TTFont(font, lazy=True) as ttf:
        em = ttf["head"].unitsPerEm
        widths = ttf["hmtx"].metrics
        return Metrics({cp: widths[glyph][0] / em for cp, glyph in ttf.getBestCmap().items()})


def _font(fonts: Path, bold: bool) -> Path:
    return fonts / (BOLD if bold else REGULAR)


def _width(text: str, fonts: Path, bold: bool, size: float) -> float:
    """Width in mm; a character the font lacks counts as an em (and fails the glyph check)."""
    advances = _metrics(_font(fonts, bold)).advances
    return sum(advances.get(ord(c), 1.0) for c in text) * size * PT


def _measure(fonts: Path, bold: bool, size: float) -> Callable[[str], float]:
    return lambda text: _width(text, fonts, bold, size)


def _text(
    x: float, y: float, text: str, fonts: Path, size: float, bold: bool, colour: Colour
) -> Text:
    return Text(x, y, text, size, bold, colour, _width(text, fonts, bold, size))


def _paragraph(
    text: str,
    fonts: Path,
    sizes: tuple[float, float, int],
    *,
    bold: bool,
    colour: Colour,
    width: float = WIDTH,
) -> Block:
    """Lines centred across the page (or across `width`, centred on the page)."""
    size, lines = _fit(text, fonts, bold, sizes, width)
    line_height = size * PT * LEADING
    ops = []
    for number, line in enumerate(lines):
        op = _text(0, number * line_height + size * PT, line, fonts, size, bold, colour)
        ops.append(replace(op, x=(PAGE_WIDTH - op.width) / 2))
    return Block(len(lines) * line_height, tuple(ops))


def _fit(
    text: str, fonts: Path, bold: bool, sizes: tuple[float, float, int], width: float
) -> tuple[float, list[str]]:
    """The largest size, in half points from the largest down to the smallest, at which the
    text wraps into at most the given number of lines; at the smallest, the lines it does not
    fit in are cut and marked with an ellipsis."""
    largest, smallest, most = sizes
    text = unicodedata.normalize("NFC", text)
    size = largest
    while True:
        measure = _measure(fonts, bold, size)
        lines = _wrap(text, measure, width)
        if len(lines) <= most:
            return size, lines
        if size - 0.5 < smallest:
            return size, _cut(lines, most, measure, width)
        size -= 0.5


def _wrap(text: str, measure: Callable[[str], float], width: float) -> list[str]:
    """Greedy line breaking at spaces; a word longer than a line is broken where it must be."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        for piece in _pieces(word, measure, width):
            candidate = f"{line} {piece}" if line else piece
            if line and measure(candidate) > width:
                lines.append(line)
                line = piece
            else:
                line = candidate
    return [*lines, line] if line else lines


def _pieces(word: str, measure: Callable[[str], float], width: float) -> Iterator[str]:
    piece = ""
    for character in word:
        if piece and measure(piece + character) > width:
            yield piece
            piece = ""
        piece += character
    yield piece


def _cut(lines: list[str], most: int, measure: Callable[[str], float], width: float) -> list[str]:
    last = lines[most - 1]
    while last and measure(last + ELLIPSIS) > width:
        last = last[:-1]
    return [*lines[: most - 1], last.rstrip() + ELLIPSIS]


# ---------------------------------------------------------------------------- output


def png(poster: Poster, fonts: Path) -> bytes:
    """The poster as a PNG at 150 dpi (A4: 1240x1754 pixels), white background."""
    scale = DPI / 25.4
    image = Image.new("RGB", (round(PAGE_WIDTH * scale), round(PAGE_HEIGHT * scale)), "white")
    draw = ImageDraw.Draw(image)
    for op in layout(poster, fonts):
        if isinstance(op, Text):
            font = _pil_font(_font(fonts, op.bold), round(op.size * DPI / 72))
            draw.text((op.x * scale, op.y * scale), op.text, fill=op.colour, font=font, anchor="ls")
            continue
        for x, y, w, h in op.rects:
            # Edges rounded the same way on both sides, so modules neither gap nor overlap.
            box = (round(x * scale), round(y * scale), round((x + w) * scale) - 1,
                   round((y + h) * scale) - 1)  # fmt: skip
            draw.rounded_rectangle(box, radius=round(op.radius * scale), fill=op.colour)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


@cache
def _pil_font(path: Path, pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), pixels)


def pdf(poster: Poster, fonts: Path) -> bytes:
    """The poster as a one-page A4 PDF with the fonts embedded (subset), text as text."""
    # Imported here: fpdf2 adds some 20 MB to every process, and only this page needs it.
    from fpdf import FPDF

    document = FPDF(unit="mm", format="A4")
    document.set_auto_page_break(False)
    document.set_creator("unionbot")
    document.set_title(f"{poster.union} - {poster.label}")
    document.add_font("poster", "", str(_font(fonts, False)))
    document.add_font("poster", "B", str(_font(fonts, True)))
    document.add_page()
    for op in layout(poster, fonts):
        if isinstance(op, Text):
            document.set_font("poster", "B" if op.bold else "", op.size)
            document.set_text_color(*op.colour)
            document.text(op.x, op.y, op.text)
            continue
        # One path per shape: a QR code's modules fill as one piece, with no hairline seams.
        with document.new_path() as path:
            path.style.fill_color = "#{:02x}{:02x}{:02x}".format(*op.colour)
            path.style.stroke_color = None
            for x, y, w, h in op.rects:
                path.rectangle(x, y, w, h, op.radius, op.radius)
    return bytes(document.output())
