"""Scrubbing evidence: what a worker sends must not carry hidden data that shows who or where
they are.

- Pictures (photos, and images sent as files) are decoded and re-encoded as JPEG: only the
  pixels survive, so EXIF (GPS position, camera serial, time), XMP and comments are gone. The
  EXIF orientation is applied first, so the picture still stands the right way up. The pixel
  count is read from the header and checked before anything is decoded.
- PDFs are rewritten with their pages only: what a page shows (its text, drawings, images and
  fonts) and nothing the document or the page carries beside it (document information, XMP
  metadata, annotations and their authors, form fields and their values, scripts, attached
  files, thumbnails, application data). Every image is decoded and rebuilt from its pixels,
  so an embedded photo loses its EXIF, XMP and ICC profile like a picture does, and nothing
  hidden after the pixels survives. Encrypted PDFs cannot be rewritten, so they are refused.
- Voice messages (Telegram records them as Ogg Opus) are checked to be Ogg and kept.

Everything here is CPU work on untrusted bytes: call it off the event loop (asyncio.to_thread)
and treat Unusable as "tell the officer the file could not be used", never as a crash.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.errors import DependencyError, DeprecationError, PyPdfError
from pypdf.filters import decode_stream_data
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    ByteStringObject,
    ContentStream,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

MAX_BYTES = 10 * 1024 * 1024  # what a worker may send, per file
# Larger pictures are refused before decoding (decompression bombs): checking one costs 8 to
# 13 bytes a pixel, so 130 to 200 MB at most. A JPEG counts at the scale it is decoded at
# (see scrub_image): a phone's 48 or 200 megapixel photo is taken.
MAX_PIXELS = 16_000_000
# An image inside a PDF may decode to as many bytes as a colour picture of MAX_PIXELS, so a
# grey or black-and-white scan may have more pixels (an A4 page at 600 dpi has 35 million).
MAX_IMAGE_BYTES = 3 * MAX_PIXELS
MAX_SIDE = 2560  # longer sides are scaled down: plenty to read a payslip
MAX_PAGES = 200
# What decoding the images and drawings of one PDF may produce, in bytes: it bounds the time
# (and, as each is let go before the next, nothing else).
MAX_PDF_DECODED = 1_000_000_000
JPEG_QUALITY = 85
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"})
PDF = "application/pdf"
VOICE_TYPES = frozenset({"audio/ogg", "audio/opus"})

# What a rewritten page keeps: how large it is and what it shows. Annotations, form widgets,
# scripts (/AA), metadata, thumbnails and application data are everything else.
PAGE_KEEP = frozenset(
    {"/Type", "/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate",
     "/Resources", "/Contents", "/Group", "/UserUnit"}
)  # fmt: skip
# What a form XObject (a drawing reused by pages) keeps.
FORM_KEEP = frozenset(
    {"/Type", "/Subtype", "/FormType", "/BBox", "/Matrix", "/Resources", "/Group", "/Filter",
     "/DecodeParms", "/Length"}
)  # fmt: skip
# What a rebuilt image keeps of the old one's dictionary: how its pixels are painted.
IMAGE_KEEP = ("/ImageMask", "/Decode", "/Interpolate", "/Intent", "/SMask", "/Mask", "/Matte")
# Dropped from any dictionary reached from a page: metadata, actions and scripts, attached
# files, annotations and forms, application data, alternate versions and links to structure.
DROP_EVERYWHERE = frozenset(
    {"/Metadata", "/PieceInfo", "/LastModified", "/AA", "/A", "/OpenAction", "/JS",
     "/JavaScript", "/Names", "/EmbeddedFiles", "/EF", "/AF", "/Annots", "/AcroForm", "/Thumb",
     "/OPI", "/Alternates", "/StructParent", "/StructParents", "/SpiderInfo", "/Outlines",
     "/URI", "/Ref"}
)  # fmt: skip
# Filters that only pack the samples (no container that could hold metadata).
PACKING_FILTERS = frozenset(
    {"/FlateDecode", "/LZWDecode", "/ASCII85Decode", "/ASCIIHexDecode", "/RunLengthDecode"}
)  # fmt: skip
# Filters whose data is a picture in a container Pillow decodes (JBIG2 is not among them).
CODECS = {
    "/DCTDecode": "JPEG", "/JPXDecode": "JPEG2000",
    "/CCITTFaxDecode": "TIFF",  # pypdf wraps fax data in a TIFF header
}  # fmt: skip
DEVICE_SPACES = {1: "/DeviceGray", 3: "/DeviceRGB", 4: "/DeviceCMYK"}
COMPONENTS = {
    "/DeviceGray": 1, "/CalGray": 1, "/Indexed": 1, "/Separation": 1,
    "/DeviceRGB": 3, "/CalRGB": 3, "/Lab": 3, "/DeviceCMYK": 4,
}  # fmt: skip
# An inline image (inside a page's drawing) names its entries and colour spaces in short.
INLINE_KEYS = {
    "/W": "/Width", "/H": "/Height", "/BPC": "/BitsPerComponent", "/CS": "/ColorSpace",
    "/F": "/Filter", "/DP": "/DecodeParms", "/D": "/Decode", "/IM": "/ImageMask",
    "/I": "/Interpolate",
}  # fmt: skip
INLINE_NAMES = {
    "/G": "/DeviceGray", "/RGB": "/DeviceRGB", "/CMYK": "/DeviceCMYK", "/I": "/Indexed",
    "/AHx": "/ASCIIHexDecode", "/A85": "/ASCII85Decode", "/LZW": "/LZWDecode",
    "/Fl": "/FlateDecode", "/RL": "/RunLengthDecode", "/CCF": "/CCITTFaxDecode",
    "/DCT": "/DCTDecode",
}  # fmt: skip
# A drawing that may hold an inline JPEG or JPEG 2000 picture (which can carry EXIF or XMP).
INLINE_PICTURE = re.compile(rb"/(DCT|JPX)")
# What malformed input makes pypdf or Pillow raise (pypdf asserts some of its expectations).
PDF_ERRORS = (
    PyPdfError, DependencyError, DeprecationError, NotImplementedError, ValueError, KeyError,
    TypeError, AttributeError, IndexError, RecursionError, OverflowError, ZeroDivisionError,
    AssertionError, zlib.error,
)  # fmt: skip
IMAGE_ERRORS = (
    *PDF_ERRORS, UnidentifiedImageError, OSError, SyntaxError, EOFError, struct.error,
)  # fmt: skip


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
        # Telegram's voice messages are Ogg; Zalo's are AMR (a bare stream: no tags to strip).
        if data.startswith(b"#!AMR"):
            return Scrubbed("audio/amr", data)
        if not data.startswith(b"OggS"):
            raise Unusable("not_audio")
        return Scrubbed("audio/ogg", data)
    raise Unusable("unsupported")


# -- pictures ----------------------------------------------------------------------------


def scrub_image(data: bytes, max_side: int = MAX_SIDE) -> bytes:
    """Decode and re-encode as JPEG: pixels only, upright, at most `max_side`."""
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            # A JPEG decodes at 1/2, 1/4 or 1/8 scale.
            image.draft(None, _fitted(image.size, max_side))
            check_pixels(image.size)  # before a single pixel is decoded
            image.seek(0)  # an animation: its first frame
            picture = _decoded(image)
            picture.thumbnail((max_side, max_side))
            upright = _on_white(ImageOps.exif_transpose(picture))
            out = io.BytesIO()
            pixels_only(upright).save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    except Unusable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Unusable("too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error):
        raise Unusable("not_an_image") from None
    return out.getvalue()


def check_pixels(size: tuple[int, int]) -> None:
    """Refuse a picture too large to decode safely."""
    width, height = size
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise Unusable("too_many_pixels")


def _fitted(size: tuple[int, int], max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The size thumbnail() will give: the longer side at most `max_side`."""
    width, height = size
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _decoded(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when it has transparency (put on white once it is small)."""
    see_through = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    mode = "RGBA" if see_through else "RGB"
    if image.mode == mode:
        image.load()  # converting would copy it
        return image
    return image.convert(mode)


def _on_white(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparency goes on white, as it would look on a page."""
    if image.mode != "RGBA":
        return image
    background = Image.new("RGB", image.size, "white")
    background.paste(image, mask=image.getchannel("A"))
    return background


def pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding the pixels alone: Pillow carries a picture's `info` (comment, XMP,
    ICC profile…) into what it saves, so the decoded one is never saved. `image` is closed.
    (Pasting costs one copy; tobytes() and frombytes() would cost two and a half.)"""
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    image.close()
    return clean


# -- PDFs --------------------------------------------------------------------------------


def scrub_pdf(data: bytes) -> bytes:
    """The same pages, showing the same, with nothing hidden (see the module's docstring)."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Unusable("encrypted")
        if len(reader.pages) > MAX_PAGES:
            raise Unusable("too_many_pages")
        cleaner = _Cleaner(reader)
        writer = PdfWriter()  # a new catalogue: no outline, names, forms, scripts or XMP
        for page in reader.pages:
            cleaner.clean(page)
            writer.add_page(page)  # copies what the page still reaches, and nothing else
        writer.metadata = None  # no document information, not even pypdf's "Producer"
        out = io.BytesIO()
        writer.write(out)  # without a file identifier: nothing ties it to the original
    except Unusable:
        raise
    except PDF_ERRORS:
        raise Unusable("not_a_pdf") from None
    return out.getvalue()


class _Cleaner:
    """Cleans pages in the reader, in place, before the writer copies them: what the writer
    copies is then only what a page shows. Each object is cleaned once, even when shared."""

    def __init__(self, reader: PdfReader) -> None:
        self.reader = reader
        self.seen: set[int] = set()
        self.decoded = 0  # bytes so far, against MAX_PDF_DECODED

    def clean(self, page: PageObject) -> None:
        """Keep what the page shows; walk all it reaches (iteratively: nesting is untrusted)."""
        for key in [key for key in page if key not in PAGE_KEEP]:
            del page[key]
        if "/Contents" in page:
            self.clean_drawing(page.raw_get("/Contents"))
        todo: list[DictionaryObject | ArrayObject] = [page]
        while todo:
            container = todo.pop()
            for key, value in _entries(container):
                found = value.get_object()
                if _is_icc_based(found):
                    _put(container, key, _device_space(found))
                    continue
                if _is_image(found) and id(found) not in self.seen:
                    found = self.replace_image(value, found)
                    if not isinstance(value, IndirectObject):
                        _put(container, key, found)
                elif _is_drawing(found) and id(found) not in self.seen:
                    found = self.clean_drawing(value)
                if self.first_visit(found):
                    _strip(found)
                    todo.append(found)

    def first_visit(self, found: object) -> TypeGuard[DictionaryObject | ArrayObject]:
        """Whether `found` holds more objects and is met for the first time."""
        if not isinstance(found, (DictionaryObject, ArrayObject)) or id(found) in self.seen:
            return False
        self.seen.add(id(found))
        return True

    def replace_image(self, value: PdfObject, image: StreamObject) -> StreamObject:
        """The image rebuilt from its pixels, put where the old one was in the reader."""
        return self.put_back(value, rebuild_image(image, self.spend))

    def clean_drawing(self, value: PdfObject) -> PdfObject | None:
        """A content stream (or a page's array of them) with its inline pictures rebuilt."""
        found = value.get_object()
        for part in found if isinstance(found, ArrayObject) else [value]:
            drawing = part.get_object()
            if isinstance(drawing, StreamObject) and self.has_inline_picture(drawing):
                self.put_back(part, self.without_inline_pictures(drawing))
        return value.get_object()

    def has_inline_picture(self, drawing: StreamObject) -> bool:
        # Decoded without get_data(), which would keep the result on the stream.
        data = decode_stream_data(drawing) if "/Filter" in drawing else drawing.get_data()
        self.spend(len(data))
        return INLINE_PICTURE.search(data) is not None

    def without_inline_pictures(self, drawing: StreamObject) -> StreamObject:
        """The drawing again, its inline JPEG and JPEG 2000 pictures rebuilt from their pixels
        (written as hexadecimal, which cannot be mistaken for the end of the picture)."""
        content = ContentStream(drawing, self.reader)
        for operands, operator in content.operations:
            if operator == b"INLINE IMAGE" and _inline_picture(operands["settings"]):
                picture = _inline_as_image(operands["settings"], operands["data"])
                rebuilt = rebuild_image(picture, self.spend)
                operands["settings"] = _inline_settings(rebuilt)
                operands["data"] = rebuilt.get_data().hex().encode() + b">\n"
        clean = DecodedStreamObject()
        clean.set_data(content.get_data())
        for key, item in drawing.items():
            if key not in ("/Filter", "/DecodeParms", "/Length"):
                clean[NameObject(key)] = item
        return clean.flate_encode()

    def put_back(self, value: PdfObject, rebuilt: StreamObject) -> StreamObject:
        """Put `rebuilt` where the object `value` refers to was, in the reader: every
        reference to the old one resolves to it now."""
        if isinstance(value, IndirectObject):
            reference = IndirectObject(value.idnum, value.generation, self.reader)
            rebuilt.indirect_reference = reference
            self.reader.resolved_objects[(value.generation, value.idnum)] = rebuilt
        return rebuilt

    def spend(self, decoded: int) -> None:
        self.decoded += decoded
        if self.decoded > MAX_PDF_DECODED:
            raise Unusable("too_many_pixels")


def _entries(container: DictionaryObject | ArrayObject) -> list[tuple[str | int, PdfObject]]:
    """A container's entries, not following /Parent (up the page tree to other pages)."""
    return [(key, value) for key, value in container.items() if key != "/Parent"]


def _put(container: DictionaryObject | ArrayObject, key: str | int, value: PdfObject) -> None:
    """Replace one entry of a dictionary or of an array."""
    if isinstance(container, ArrayObject) and isinstance(key, int):
        container[key] = value
    elif isinstance(container, DictionaryObject) and isinstance(key, str):
        container[NameObject(key)] = value


def _strip(found: DictionaryObject | ArrayObject) -> None:
    """Drop what no page needs to be drawn from a dictionary (forms: all but FORM_KEEP)."""
    if not isinstance(found, DictionaryObject):
        return
    form = _value(found, "/Subtype") == "/Form" and isinstance(found, StreamObject)
    for key in list(found):
        if key in DROP_EVERYWHERE or (form and key not in FORM_KEEP):
            del found[key]


def _value(dictionary: DictionaryObject, key: str, default: PdfObject | None = None) -> object:
    """An entry's value, followed if it is a reference (dict.get does not follow them)."""
    found = dictionary.get(key, default)
    return found.get_object() if isinstance(found, IndirectObject) else found


def _is_image(found: PdfObject | None) -> TypeGuard[StreamObject]:
    return isinstance(found, StreamObject) and _value(found, "/Subtype") == "/Image"


def _is_drawing(found: PdfObject | None) -> TypeGuard[StreamObject]:
    """A form XObject or a tiling pattern: a content stream of its own."""
    return isinstance(found, StreamObject) and (
        _value(found, "/Subtype") == "/Form" or _value(found, "/PatternType") == 1
    )


def _is_icc_based(found: PdfObject | None) -> TypeGuard[ArrayObject]:
    return isinstance(found, ArrayObject) and len(found) == 2 and found[0] == "/ICCBased"


def _device_space(icc_based: ArrayObject) -> NameObject:
    """The device colour space an ICC profile describes, without the profile (its text names
    the device and its maker)."""
    profile = icc_based[1].get_object()
    components = _value(profile, "/N") if isinstance(profile, StreamObject) else None
    if components not in DEVICE_SPACES:
        raise Unusable("unsupported")
    return NameObject(DEVICE_SPACES[int(components)])


# -- images inside PDFs ------------------------------------------------------------------


def rebuild_image(image: StreamObject, spend: Callable[[int], None]) -> StreamObject:
    """A new image XObject from the old one's pixels alone; `spend` counts decoded bytes."""
    width, height = _value(image, "/Width"), _value(image, "/Height")
    if not isinstance(width, int) or not isinstance(height, int):
        raise Unusable("not_a_pdf")
    filters = _filters(image)
    *packing, last = filters or [""]
    if not set(packing) <= PACKING_FILTERS or last not in PACKING_FILTERS | set(CODECS) | {""}:
        raise Unusable("unsupported")  # JBIG2 among them: decoding it runs a program
    try:
        if last in CODECS:
            return _recoded(image, CODECS[last], (width, height), spend)
        return _repacked(image, (width, height), spend)
    except Unusable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Unusable("too_many_pixels") from None
    except IMAGE_ERRORS:
        raise Unusable("unsupported") from None


def check_samples(size: tuple[int, int], components: int, bits: int = 8) -> int:
    """How many bytes an image inside a PDF decodes to; refused above MAX_IMAGE_BYTES."""
    width, height = size
    decoded = (width * components * bits + 7) // 8 * height
    if width <= 0 or height <= 0 or width * height > 4 * MAX_PIXELS or decoded > MAX_IMAGE_BYTES:
        raise Unusable("too_many_pixels")
    return decoded


def _filters(stream: StreamObject) -> list[str]:
    found = _value(stream, "/Filter")
    if found is None:
        return []
    if isinstance(found, NameObject):
        return [str(found)]
    if isinstance(found, ArrayObject):
        return [str(name) for name in found]
    raise Unusable("not_a_pdf")


def _repacked(
    image: StreamObject, size: tuple[int, int], spend: Callable[[int], None]
) -> StreamObject:
    """Samples only packed (Flate, LZW…): exactly width × height samples, packed anew.
    Anything after them is cut off; a colour space keeps no ICC profile."""
    space = _plain_space(image.get("/ColorSpace"))
    mask = _is_mask(image)
    bits = 1 if mask else _value(image, "/BitsPerComponent", NumberObject(8))
    components = 1 if mask else _components(space)
    if not isinstance(bits, int) or bits not in (1, 2, 4, 8, 16) or components is None:
        raise Unusable("unsupported")
    decoded = check_samples(size, components, bits)  # before anything is decoded
    spend(decoded)
    samples = image.get_data()[:decoded].ljust(decoded, b"\0")
    return _image_stream(image, size, space, bits, samples).flate_encode()


def _recoded(
    image: StreamObject, codec: str, size: tuple[int, int], spend: Callable[[int], None]
) -> StreamObject:
    """A picture in a container (JPEG, JPEG 2000, fax): decoded, its pixels alone re-encoded.
    Fax pictures come back as one bit a sample; the others as a JPEG."""
    space = _plain_space(image.get("/ColorSpace"))
    fax = codec == "TIFF"
    check_samples(size, 1 if fax else _components(space) or 3, 1 if fax else 8)
    with Image.open(io.BytesIO(image.get_data()), formats=[codec]) as picture:
        # Its own header may say otherwise: checked too, still before decoding.
        spend(check_samples(picture.size, len(picture.getbands()), 1 if fax else 8))
        if fax:
            bilevel = picture if picture.mode == "1" else picture.convert("1")
            return _image_stream(image, picture.size, space, 1, bilevel.tobytes()).flate_encode()
        mode = picture.mode if picture.mode in ("L", "RGB") else _nearest_mode(picture.mode)
        bands = 1 if mode == "L" else 3
        same = mode == picture.mode and codec == "JPEG" and _components(space) == bands
        source = picture if mode == picture.mode else picture.convert(mode)
        out = io.BytesIO()
        pixels_only(source).save(out, "JPEG", quality=JPEG_QUALITY)
    if not same:  # the samples now mean something else: say what
        space = NameObject(DEVICE_SPACES[bands])
    rebuilt = _image_stream(image, picture.size, space, 8, out.getvalue(), keep_decode=same)
    rebuilt[NameObject("/Filter")] = NameObject("/DCTDecode")
    return rebuilt


def _nearest_mode(mode: str) -> str:
    return "L" if mode in ("1", "L", "LA", "I", "I;16", "F", "La") else "RGB"


def _image_stream(
    image: StreamObject,
    size: tuple[int, int],
    space: PdfObject | None,
    bits: int,
    data: bytes,
    keep_decode: bool = True,
) -> StreamObject:
    """A fresh image XObject of `data` (unpacked): the painting entries of `image`, and
    nothing else of it."""
    rebuilt = DecodedStreamObject()
    rebuilt.set_data(data)
    rebuilt[NameObject("/Type")] = NameObject("/XObject")
    rebuilt[NameObject("/Subtype")] = NameObject("/Image")
    rebuilt[NameObject("/Width")] = NumberObject(size[0])
    rebuilt[NameObject("/Height")] = NumberObject(size[1])
    rebuilt[NameObject("/BitsPerComponent")] = NumberObject(bits)
    if space is not None and not _is_mask(image):
        rebuilt[NameObject("/ColorSpace")] = space
    for key in IMAGE_KEEP:
        if key in image and (keep_decode or key != "/Decode"):
            rebuilt[NameObject(key)] = image.raw_get(key)
    return rebuilt


def _is_mask(image: StreamObject) -> bool:
    """A stencil mask: one bit a pixel, painted in the current colour."""
    flag = _value(image, "/ImageMask")
    return isinstance(flag, BooleanObject) and bool(flag.value)


def _plain_space(value: PdfObject | None) -> PdfObject | None:
    """A colour space without ICC profiles; an indexed one with its palette as plain bytes."""
    space = value.get_object() if value is not None else None
    if _is_icc_based(space):
        return _device_space(space)
    if isinstance(space, ArrayObject) and len(space) == 4 and space[0] == "/Indexed":
        base, top = _plain_space(space[1]), space[2]
        lookup = space[3].get_object()
        if isinstance(lookup, StreamObject):
            palette = lookup.get_data()
        elif isinstance(lookup, TextStringObject):
            palette = lookup.original_bytes
        else:
            palette = bytes(lookup)
        size = (int(top) + 1) * (_components(base) or 0)
        return ArrayObject([NameObject("/Indexed"), base, top, ByteStringObject(palette[:size])])
    return value


def _components(space: PdfObject | None) -> int | None:
    """How many numbers make one colour in a (plain) colour space."""
    space = space.get_object() if space is not None else None
    if isinstance(space, ArrayObject) and space:
        if space[0] == "/DeviceN" and len(space) > 1:
            names = space[1].get_object()
            return len(names) if isinstance(names, ArrayObject) else None
        space = space[0]
    return COMPONENTS.get(str(space)) if isinstance(space, NameObject) else None


# -- inline images -----------------------------------------------------------------------


def _inline_picture(settings: DictionaryObject) -> bool:
    """Whether an inline image is a JPEG or JPEG 2000 (the kinds that can carry metadata)."""
    found = settings.get("/F", settings.get("/Filter"))
    names = found if isinstance(found, ArrayObject) else [found]
    return any(str(name) in ("/DCT", "/DCTDecode", "/JPXDecode") for name in names)


def _inline_as_image(settings: DictionaryObject, data: bytes) -> StreamObject:
    """An inline image as an image XObject, its entries in full."""
    entries: dict[str, object] = {"__streamdata__": data}
    entries[NameObject("/Subtype")] = NameObject("/Image")
    for key, value in settings.items():
        entries[NameObject(INLINE_KEYS.get(key, key))] = _in_full(value)
    return StreamObject.initialize_from_dictionary(entries)


def _in_full(value: PdfObject) -> PdfObject:
    """A colour space or filter name (or an array of them) as an image XObject names it."""
    if isinstance(value, NameObject):
        return NameObject(INLINE_NAMES.get(value, value))
    if isinstance(value, ArrayObject):
        return ArrayObject(_in_full(item) for item in value)
    return value


def _inline_settings(image: StreamObject) -> DictionaryObject:
    """A rebuilt image's entries as an inline image's, its JPEG data written in hexadecimal."""
    short = {full: brief for brief, full in INLINE_KEYS.items()}
    settings = DictionaryObject()
    for key, value in image.items():
        if key in short and key != "/Filter":
            settings[NameObject(short[key])] = value
    settings[NameObject("/F")] = ArrayObject([NameObject("/AHx"), NameObject("/DCT")])
    return settings
