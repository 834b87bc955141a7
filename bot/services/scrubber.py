"""Scrubbing evidence: what a worker sends must not carry hidden data that shows who or where
they are.

- Pictures (photos, and images sent as files) are decoded and re-encoded as JPEG: only the
  pixels survive, so EXIF (GPS position, camera serial, time), XMP and comments are gone. The
  EXIF orientation is applied first, so the picture still stands the right way up.
- PDFs are rewritten without the document information (author, creator, dates) and without
  XMP metadata, document-wide or per page; scripts and embedded files are dropped too.
  Encrypted PDFs cannot be rewritten, so they are refused.
- Voice messages (Telegram records them as Ogg Opus) are checked to be Ogg and kept.

Everything here is CPU work on untrusted bytes: call it off the event loop (asyncio.to_thread)
and treat Unusable as "tell the officer the file could not be used", never as a crash.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError

MAX_BYTES = 10 * 1024 * 1024  # what a worker may send, per file
MAX_PIXELS = 50_000_000  # larger pictures are refused before decoding (decompression bombs)
MAX_SIDE = 2560  # longer sides are scaled down: plenty to read a payslip
MAX_PAGES = 200
JPEG_QUALITY = 85
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"})
PDF = "application/pdf"
VOICE_TYPES = frozenset({"audio/ogg", "audio/opus"})
# Catalogue entries a rewritten PDF must not keep: metadata, scripts, attached files.
PDF_DROP = ("/Metadata", "/OpenAction", "/AA", "/Names", "/PieceInfo")
PAGE_DROP = ("/Metadata", "/PieceInfo", "/AA")


class Unusable(Exception):
    """The file cannot be used as evidence; `reason` is a short code for officers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Scrubbed:
    mime: str
    content: bytes


def accepts(kind: str, mime: str | None) -> bool:
    """Whether a file of this kind and declared type can be taken at all."""
    if kind == "photo":
        return True
    if kind == "voice":
        return True
    if kind == "document":
        return mime == PDF or mime in IMAGE_TYPES
    return False


def scrub(kind: str, mime: str | None, data: bytes) -> Scrubbed:
    """The file without hidden data, or Unusable."""
    if len(data) > MAX_BYTES:
        raise Unusable("too_large")
    if not data:
        raise Unusable("empty")
    if kind == "photo" or (kind == "document" and mime in IMAGE_TYPES):
        return Scrubbed("image/jpeg", scrub_image(data))
    if kind == "document" and mime == PDF:
        return Scrubbed(PDF, scrub_pdf(data))
    if kind == "voice":
        if not data.startswith(b"OggS"):
            raise Unusable("not_audio")
        return Scrubbed("audio/ogg", data)
    raise Unusable("unsupported")


def scrub_image(data: bytes) -> bytes:
    """Decode and re-encode as JPEG: pixels only, upright, at most MAX_SIDE."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise Unusable("too_many_pixels")
            image.seek(0)  # an animation: its first frame
            upright = ImageOps.exif_transpose(image)
            picture = _flatten(upright)
            picture.thumbnail((MAX_SIDE, MAX_SIDE))
            # A new image from the pixels alone: Pillow carries a picture's `info` (comment,
            # XMP, ICC profile…) into what it saves, so the decoded one is never saved.
            pixels = Image.frombytes(picture.mode, picture.size, picture.tobytes())
            out = io.BytesIO()
            pixels.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    except Unusable:
        raise
    except Image.DecompressionBombError:
        raise Unusable("too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise Unusable("not_an_image") from None
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparency goes on white, as it would look on a page."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def scrub_pdf(data: bytes) -> bytes:
    """The same pages, without document information, XMP metadata, scripts or attachments."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Unusable("encrypted")
        if len(reader.pages) > MAX_PAGES:
            raise Unusable("too_many_pages")
        writer = PdfWriter()
        for page in reader.pages:
            added = writer.add_page(page)
            for key in PAGE_DROP:
                added.pop(key, None)
        for key in PDF_DROP:
            writer.root_object.pop(key, None)
        writer.metadata = None
        out = io.BytesIO()
        writer.write(out)
    except Unusable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise Unusable("not_a_pdf") from None
    return out.getvalue()
