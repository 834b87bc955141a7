"""Evidence is scrubbed of hidden data: EXIF GPS, camera, comments, PDF authors and XMP,
annotations, form values, scripts, attachments, the metadata of images inside PDFs; pictures
too large to decode are refused before they cost memory."""

from __future__ import annotations

import io
import re
import struct
import subprocess
import sys
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

from bot.services import scrubber
from bot.services.scrubber import Unusable
from tests.support import ROOT, jpeg_with_gps, pdf_with_metadata


def test_a_photo_loses_gps_camera_and_comment_but_stays_upright():
    original = jpeg_with_gps()
    assert b"PhoneOfLan" in original and b"Nguyen Thi Lan" in original
    result = scrubber.scrub("photo", "image/jpeg", original)
    assert result.mime == "image/jpeg"
    assert b"PhoneOfLan" not in result.content and b"Nguyen Thi Lan" not in result.content
    assert b"Exif" not in result.content
    picture = Image.open(io.BytesIO(result.content))
    assert dict(picture.getexif()) == {}
    assert picture.size == (200, 300)  # the orientation was applied before it was dropped
    # Rotated 90° clockwise: the blue left half is now on top.
    assert picture.getpixel((100, 10))[2] > 200 and picture.getpixel((100, 290))[0] > 200


def test_an_image_sent_as_a_file_is_scrubbed_and_flattened():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Nguyen Thi Lan")
    image = Image.new("RGBA", (4000, 100), (0, 128, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    result = scrubber.scrub("document", "image/png", out.getvalue())
    assert result.mime == "image/jpeg" and b"Nguyen" not in result.content
    picture = Image.open(io.BytesIO(result.content))
    assert picture.size == (2560, 64)  # scaled down to MAX_SIDE
    assert picture.getpixel((5, 5)) == (255, 255, 255)  # transparency on white


def test_a_pdf_loses_its_author_and_xmp_and_keeps_its_pages():
    original = pdf_with_metadata()
    assert b"Nguyen Thi Lan" in original
    result = scrubber.scrub("document", "application/pdf", original)
    assert result.mime == "application/pdf"
    assert b"Nguyen Thi Lan" not in result.content and b"LanLaptop" not in result.content
    reader = PdfReader(io.BytesIO(result.content))
    assert len(reader.pages) == 2
    assert not reader.metadata and reader.xmp_metadata is None


def test_an_encrypted_pdf_is_refused():
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(Unusable) as refused:
        scrubber.scrub("document", "application/pdf", out.getvalue())
    assert refused.value.reason == "encrypted"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims to be huge: a decompression bomb stopped before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("kind", "mime", "data", "reason"),
    [
        ("photo", "image/jpeg", b"", "empty"),
        ("photo", "image/jpeg", b"not a picture at all", "not_an_image"),
        ("photo", "image/jpeg", jpeg_with_gps()[:200], "not_an_image"),
        ("photo", "image/png", _png_header_only(20_000, 20_000), "too_many_pixels"),
        ("document", "application/pdf", b"%PDF-1.7 broken", "not_a_pdf"),
        ("voice", "audio/ogg", b"RIFF....WAVE", "not_audio"),
        ("document", "application/zip", b"PK\x03\x04", "unsupported"),
        ("photo", "image/jpeg", b"x" * (scrubber.MAX_BYTES + 1), "too_large"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(kind, mime, data, reason):
    with pytest.raises(Unusable) as refused:
        scrubber.scrub(kind, mime, data)
    assert refused.value.reason == reason


def test_a_voice_message_is_kept_as_it_is():
    voice = b"OggS" + bytes(100)
    assert scrubber.scrub("voice", "audio/ogg", voice).content == voice


def test_what_can_be_taken_at_all():
    assert scrubber.accepts("photo", None) and scrubber.accepts("voice", "audio/ogg")
    assert scrubber.accepts("document", "application/pdf")
    assert scrubber.accepts("document", "image/jpeg")
    assert not scrubber.accepts("document", "application/msword")
    assert not scrubber.accepts("video", "video/mp4") and not scrubber.accepts("sticker", None)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from([("photo", "image/jpeg"), ("document", "application/pdf")]),
    data=st.binary(max_size=2000),
    prefix=st.sampled_from([b"", b"%PDF-1.4\n", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n"]),
)
def test_any_bytes_give_a_scrubbed_file_or_unusable_never_a_crash(kind, data, prefix):
    try:
        result = scrubber.scrub(kind[0], kind[1], prefix + data)
    except Unusable:
        return
    assert result.content


# -- PDFs: nothing hidden survives, in images, annotations, forms, scripts or attachments ----

# Planted in every place a PDF can hide who made it; none may be found in the scrubbed file.
MARKERS = [
    b"LanGPSPhone",  # the camera's make, in the embedded JPEG's EXIF
    b"SN-LAN-0042",  # the camera's serial number, in the same EXIF
    b"LAN-JPEG-COMMENT",
    b"LAN-JPEG-XMP",  # an XMP packet inside the JPEG
    b"LAN-JPEG-ICC",  # an ICC profile inside the JPEG
    b"LAN-IMAGE-XMP",  # the image XObject's own /Metadata
    b"LAN-ICCBASED",  # an /ICCBased colour space's profile
    b"LAN-TRAILING",  # bytes hidden after an image's pixels
    b"LAN-FORM-XMP",
    b"LAN-ANNOT-AUTHOR",
    b"LAN-ANNOT-CONTENTS",
    b"LAN-POPUP",
    b"LAN-FIELD-NAME",
    b"LAN-FIELD-VALUE",
    b"LAN-OPEN-JS",
    b"LAN-PAGE-JS",
    b"LAN-NAMES-JS",
    b"LAN-ATTACHED-FILE",
    b"LAN-INFO-AUTHOR",
    b"LAN-DOC-XMP",
    b"LAN-PAGE-XMP",
    b"LAN-PIECE-INFO",
    b"LAN-THUMB",
]
# Containers of hidden data inside pictures: EXIF, XMP and ICC segments of a JPEG.
JPEG_SEGMENTS = [b"Exif\x00\x00", b"http://ns.adobe.com/xap/1.0/", b"ICC_PROFILE"]


def _pdf(value):
    """A pypdf object from a plain one: '/Name', 'text', 1, 1.5, [..], {..}, b'bytes'."""
    if isinstance(value, PdfObject):
        return value
    if isinstance(value, bool):
        return BooleanObject(value)
    if isinstance(value, int):
        return NumberObject(value)
    if isinstance(value, float):
        return FloatObject(value)
    if isinstance(value, bytes):
        return ByteStringObject(value)
    if isinstance(value, str):
        return NameObject(value) if value.startswith("/") else TextStringObject(value)
    if isinstance(value, list):
        return ArrayObject(_pdf(v) for v in value)
    return DictionaryObject({NameObject(k): _pdf(v) for k, v in value.items()})


def _stream(writer, data: bytes, entries=None, flate: bool = False):
    stream = DecodedStreamObject()
    stream.set_data(data)
    stream.update(_pdf(entries or {}))
    return writer._add_object(stream.flate_encode() if flate else stream)


def _camera_jpeg() -> bytes:
    """A 300×200 photo, blue left and red right, as a phone saves it: EXIF with GPS, make
    and serial number, a comment, XMP and an ICC profile."""
    image = Image.new("RGB", (300, 200), "red")
    image.paste((0, 0, 255), (0, 0, 150, 200))
    exif = Image.Exif()
    exif[0x010F] = "LanGPSPhone"
    exif[0x8825] = {1: "N", 2: (11.0, 56.0, 30.0), 3: "E", 4: (108.0, 26.0, 15.0)}
    exif[0x8769] = {0xA431: "SN-LAN-0042"}  # BodySerialNumber
    out = io.BytesIO()
    image.save(
        out, "JPEG", exif=exif, comment=b"LAN-JPEG-COMMENT",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">LAN-JPEG-XMP</x:xmpmeta>',
        icc_profile=b"\x00\x00\x01\x00LAN-JPEG-ICC" + bytes(200),
    )  # fmt: skip
    return out.getvalue()


def _flate_image(writer) -> object:
    """A 64×48 green image with an ICC profile, XMP and bytes hidden after its pixels."""
    profile = _stream(writer, b"LAN-ICCBASED" + bytes(100), {"/N": 3})
    xmp = _stream(writer, b"<x:xmpmeta>LAN-IMAGE-XMP</x:xmpmeta>", {"/Type": "/Metadata"})
    pixels = bytes([0, 160, 0]) * 64 * 48 + b"LAN-TRAILING"
    return _stream(
        writer, pixels,
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": 64, "/Height": 48,
         "/BitsPerComponent": 8, "/ColorSpace": ["/ICCBased", profile], "/Metadata": xmp},
        flate=True,
    )  # fmt: skip


def _page_with_hidden_data(writer):
    """A page showing a photo, an image inside a form, and a line of text; annotated."""
    page = writer.add_blank_page(595, 842)
    photo = _stream(
        writer, _camera_jpeg(),
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": 300, "/Height": 200,
         "/BitsPerComponent": 8, "/ColorSpace": "/DeviceRGB", "/Filter": "/DCTDecode"},
    )  # fmt: skip
    form = _stream(
        writer, b"q 64 0 0 48 0 0 cm /Im1 Do Q",
        {"/Type": "/XObject", "/Subtype": "/Form", "/BBox": [0, 0, 64, 48],
         "/Resources": {"/XObject": {"/Im1": _flate_image(writer)}},
         "/Metadata": _stream(writer, b"<x:xmpmeta>LAN-FORM-XMP</x:xmpmeta>"),
         "/PieceInfo": {"/Lan": {"/Private": "LAN-PIECE-INFO"}}},
    )  # fmt: skip
    font = {"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}
    page[NameObject("/Resources")] = _pdf(
        {"/XObject": {"/Im0": photo, "/Fm0": form}, "/Font": {"/F1": font}}
    )
    text = b"BT /F1 14 Tf 50 800 Td (PHIEU LUONG THANG 10) Tj ET "
    draw = b"q 300 0 0 200 50 500 cm /Im0 Do Q q 1 0 0 1 50 400 cm /Fm0 Do Q"
    page[NameObject("/Contents")] = _stream(writer, text + draw)
    page[NameObject("/Metadata")] = _stream(writer, b"<x:xmpmeta>LAN-PAGE-XMP</x:xmpmeta>")
    page[NameObject("/PieceInfo")] = _pdf({"/Lan": {"/Private": "LAN-PIECE-INFO"}})
    page[NameObject("/Thumb")] = _stream(
        writer, b"LAN-THUMB" + bytes(7),
        {"/Width": 4, "/Height": 4, "/BitsPerComponent": 8, "/ColorSpace": "/DeviceGray"},
    )  # fmt: skip
    page[NameObject("/AA")] = _pdf({"/O": {"/S": "/JavaScript", "/JS": "LAN-PAGE-JS"}})
    return page


def _annotate(writer, page) -> None:
    """A sticky note with its author and popup, and a filled text field."""
    note = writer._add_object(
        _pdf({"/Type": "/Annot", "/Subtype": "/Text", "/Rect": [50, 300, 70, 320],
              "/T": "LAN-ANNOT-AUTHOR", "/Contents": "LAN-ANNOT-CONTENTS"})
    )  # fmt: skip
    popup = writer._add_object(
        _pdf({"/Type": "/Annot", "/Subtype": "/Popup", "/Rect": [80, 300, 200, 360],
              "/Parent": note, "/Contents": "LAN-POPUP"})
    )  # fmt: skip
    note.get_object()[NameObject("/Popup")] = popup
    look = _stream(
        writer, b"BT /Helv 10 Tf 2 4 Td (LAN-FIELD-VALUE) Tj ET",
        {"/Type": "/XObject", "/Subtype": "/Form", "/BBox": [0, 0, 150, 20]},
    )  # fmt: skip
    field = writer._add_object(
        _pdf({"/Type": "/Annot", "/Subtype": "/Widget", "/FT": "/Tx", "/Rect": [50, 250, 200, 270],
              "/T": "LAN-FIELD-NAME", "/V": "LAN-FIELD-VALUE", "/AP": {"/N": look},
              "/P": page.indirect_reference})
    )  # fmt: skip
    page[NameObject("/Annots")] = ArrayObject([note, popup, field])
    writer.root_object[NameObject("/AcroForm")] = _pdf({"/Fields": [field], "/DA": "/Helv 0 Tf"})


def pdf_with_everything_hidden() -> bytes:
    """One page holding every kind of hidden data a PDF can carry (see MARKERS)."""
    writer = PdfWriter()
    _annotate(writer, _page_with_hidden_data(writer))
    writer.add_attachment("lan.txt", b"LAN-ATTACHED-FILE")
    names = writer.root_object["/Names"]
    names[NameObject("/JavaScript")] = _pdf(
        {"/Names": ["doc", {"/S": "/JavaScript", "/JS": "LAN-NAMES-JS"}]}
    )
    writer.root_object[NameObject("/OpenAction")] = _pdf(
        {"/S": "/JavaScript", "/JS": "LAN-OPEN-JS"}
    )
    writer.add_metadata({"/Author": "LAN-INFO-AUTHOR"})
    writer.xmp_metadata = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">LAN-DOC-XMP</x:xmpmeta>'
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def everything_in(pdf: bytes) -> bytes:
    """Every object of a PDF, reachable or not, with its streams decoded, and the file."""
    reader = PdfReader(io.BytesIO(pdf))
    parts = [pdf, repr(dict(reader.trailer)).encode()]
    for number in range(1, int(reader.trailer["/Size"])):
        obj = reader.get_object(number)
        if isinstance(obj, DictionaryObject):
            parts.append(repr(dict(obj)).encode())
        elif obj is not None:
            parts.append(repr(obj).encode())
        if isinstance(obj, StreamObject):
            parts.append(obj.get_data())
    return b"\n".join(parts + _inline_images(reader))


def _inline_images(reader) -> list[bytes]:
    """The data of the images written inside pages' drawings (hexadecimal decoded)."""
    found = []
    for page in reader.pages:
        drawing = page.get_contents()
        for operands, operator in drawing.operations if drawing is not None else []:
            if operator == b"INLINE IMAGE":
                data, packing = operands["data"], repr(operands["settings"].get("/F"))
                if "AHx" in packing or "ASCIIHex" in packing:
                    data = bytes.fromhex(re.sub(rb"[\s>]", b"", data).decode())
                found.append(data)
    return found


def _images(page) -> dict[str, Image.Image]:
    return {image.name.rsplit(".", 1)[0]: image.image for image in page.images}


def test_a_pdf_keeps_nothing_hidden_in_images_annotations_forms_scripts_or_attachments():
    original = pdf_with_everything_hidden()
    planted = everything_in(original)
    assert [m for m in MARKERS + JPEG_SEGMENTS if m not in planted] == []
    result = scrubber.scrub("document", "application/pdf", original)
    assert result.mime == "application/pdf"
    left = everything_in(result.content)
    assert [m for m in MARKERS + JPEG_SEGMENTS if m in left] == []
    reader = PdfReader(io.BytesIO(result.content))
    catalog = reader.trailer["/Root"]
    assert not {"/Names", "/OpenAction", "/AcroForm", "/Metadata", "/AA"} & set(catalog)
    assert "/Info" not in reader.trailer
    page = reader.pages[0]
    assert not {"/Annots", "/AA", "/Metadata", "/PieceInfo", "/Thumb"} & set(page)
    # What the page shows is still there: its text, the photo and the image inside the form.
    assert "PHIEU LUONG THANG 10" in page.extract_text()
    images = _images(page)
    photo = images["Im0"].convert("RGB")
    assert photo.size == (300, 200)
    assert photo.getpixel((20, 100))[2] > 200 and photo.getpixel((280, 100))[0] > 200
    assert images["Im1"].convert("RGB").size == (64, 48)
    assert images["Im1"].convert("RGB").getpixel((30, 20)) == (0, 160, 0)


def _pdf_showing(make_image) -> bytes:
    """A one-page PDF drawing the image XObject `make_image(writer)` builds, as /Im0."""
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    page[NameObject("/Resources")] = _pdf({"/XObject": {"/Im0": make_image(writer)}})
    page[NameObject("/Contents")] = _stream(writer, b"q 200 0 0 200 0 0 cm /Im0 Do Q")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _square() -> Image.Image:
    """Black on white, 40×30: a black square in the top left quarter."""
    image = Image.new("1", (40, 30), 1)
    image.paste(0, (0, 0, 20, 15))
    return image


def _fax(writer):
    """The square as a scanner stores it: CCITT group 4."""
    tiff = io.BytesIO()
    _square().save(tiff, "TIFF", compression="group4")
    stored = Image.open(tiff)
    start, length = stored.tag_v2[273][0], stored.tag_v2[279][0]
    data = tiff.getvalue()[start : start + length]
    return _stream(
        writer, data,
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": 40, "/Height": 30,
         "/BitsPerComponent": 1, "/ColorSpace": "/DeviceGray", "/Filter": "/CCITTFaxDecode",
         # Pillow codes white as 1 (BlackIsZero), so black is the filter's 1.
         "/DecodeParms": {"/K": -1, "/Columns": 40, "/Rows": 30, "/BlackIs1": True}},
    )  # fmt: skip


def _stencil(writer):
    """The square as a stencil mask: 1 bit a pixel, painted where 0, with junk after it."""
    return _stream(
        writer, _square().tobytes() + b"LAN-TRAILING",
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": 40, "/Height": 30,
         "/ImageMask": True, "/BitsPerComponent": 1, "/Decode": [0, 1]},
        flate=True,
    )  # fmt: skip


def _indexed(writer):
    """Two colours from a palette, with the palette's colour space an ICC profile; its width
    and colour space are references to other objects, as PDFs may have them."""
    profile = _stream(writer, b"LAN-ICCBASED", {"/N": 3})
    palette = bytes([255, 255, 255, 200, 0, 0])
    space = writer._add_object(_pdf(["/Indexed", ["/ICCBased", profile], 1, palette]))
    return _stream(
        writer, _square().convert("L").point(lambda v: 0 if v else 1).tobytes(),
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": writer._add_object(_pdf(40)),
         "/Height": 30, "/BitsPerComponent": 8, "/ColorSpace": space},
        flate=True,
    )  # fmt: skip


def _gray_jpeg(writer):
    out = io.BytesIO()
    _square().convert("L").save(out, "JPEG", quality=95, comment=b"LAN-JPEG-COMMENT")
    return _stream(
        writer, out.getvalue(),
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": 40, "/Height": 30,
         "/BitsPerComponent": 8, "/ColorSpace": "/DeviceGray", "/Filter": "/DCTDecode"},
    )  # fmt: skip


@pytest.mark.parametrize("make_image", [_fax, _stencil, _indexed, _gray_jpeg])
def test_an_image_in_a_pdf_comes_back_with_the_same_pixels_and_nothing_else(make_image):
    original = _pdf_showing(make_image)
    before = _images(PdfReader(io.BytesIO(original)).pages[0])["Im0"]
    result = scrubber.scrub("document", "application/pdf", original).content
    after = _images(PdfReader(io.BytesIO(result)).pages[0])["Im0"]
    assert after.size == before.size == (40, 30)
    shown_before, shown_after = before.convert("RGB"), after.convert("RGB")
    difference = ImageChops.difference(shown_before, shown_after).getextrema()
    assert max(high for _, high in difference) < 40  # the same (a JPEG is re-encoded: nearly)
    # The square is still dark (black, or the palette's red) on white: nothing turned over.
    assert shown_after.getpixel((5, 5))[1] < 40 and shown_after.getpixel((30, 25)) == (255,) * 3
    assert [m for m in MARKERS + JPEG_SEGMENTS if m in everything_in(result)] == []


def _huge(writer):
    """An image that claims 7000×7000 pixels (49 megapixels) in a few bytes."""
    return _stream(
        writer, bytes(3 * 7000),
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": 7000, "/Height": 7000,
         "/BitsPerComponent": 8, "/ColorSpace": "/DeviceRGB"},
        flate=True,
    )  # fmt: skip


def _jbig2(writer):
    return _stream(
        writer, b"\x97JB2\r\n\x1a\n" + bytes(30),
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": 40, "/Height": 30,
         "/BitsPerComponent": 1, "/ColorSpace": "/DeviceGray", "/Filter": "/JBIG2Decode"},
    )  # fmt: skip


def _broken_jpeg(writer):
    return _stream(
        writer, jpeg_with_gps()[:300],
        {"/Type": "/XObject", "/Subtype": "/Image", "/Width": 300, "/Height": 200,
         "/BitsPerComponent": 8, "/ColorSpace": "/DeviceRGB", "/Filter": "/DCTDecode"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("make_image", "reason"),
    [(_huge, "too_many_pixels"), (_jbig2, "unsupported"), (_broken_jpeg, "unsupported")],
)
def test_a_pdf_with_an_image_that_cannot_be_cleaned_is_refused(make_image, reason):
    with pytest.raises(Unusable) as refused:
        scrubber.scrub("document", "application/pdf", _pdf_showing(make_image))
    assert refused.value.reason == reason


# -- pictures: the pixel count is checked before decoding ----------------------------------


def _png(width: int, height: int) -> bytes:
    """A real, white RGB PNG of any size, built row by row so it costs little to make."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    packer = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * (3 * width)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# Run in a fresh interpreter: the growth of its peak memory (RSS) is what checking the file
# cost. tracemalloc cannot measure this, as Pillow allocates pixels outside Python's heap.
MEASURE = """
import resource, sys
from bot.services import scrubber
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    scrubber.scrub("document", "image/png", data)
    outcome = "taken"
except scrubber.Unusable as refused:
    outcome = refused.reason
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(outcome, grown // 1024)
"""


def test_a_49_megapixel_png_is_refused_cheaply(tmp_path):
    png = _png(7000, 7000)
    assert len(png) < 200 * 1024  # small to send, 49 million pixels to decode
    (tmp_path / "huge.png").write_bytes(png)
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path / "huge.png")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    outcome, megabytes = measured.stdout.split()
    assert outcome == "too_many_pixels"
    assert int(megabytes) < 50


def test_a_large_phone_photo_is_taken_decoded_at_a_smaller_scale():
    out = io.BytesIO()
    Image.new("L", (8000, 6000), 128).save(out, "JPEG")  # 48 megapixels, as some phones shoot
    result = scrubber.scrub("photo", "image/jpeg", out.getvalue())
    assert Image.open(io.BytesIO(result.content)).size == (2560, 1920)


def test_an_inline_jpeg_in_a_pages_drawing_is_rebuilt_from_its_pixels():
    jpeg = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "LanGPSPhone"
    _square().convert("L").save(jpeg, "JPEG", exif=exif, comment=b"LAN-JPEG-COMMENT")
    inline = b"BI /W 40 /H 30 /BPC 8 /CS /G /F [/AHx /DCT] ID " + jpeg.getvalue().hex().encode()
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    page[NameObject("/Contents")] = _stream(writer, b"q 40 0 0 30 0 0 cm " + inline + b"> EI Q")
    out = io.BytesIO()
    writer.write(out)
    assert b"LanGPSPhone" in everything_in(out.getvalue())
    result = scrubber.scrub("document", "application/pdf", out.getvalue()).content
    assert [m for m in MARKERS + JPEG_SEGMENTS if m in everything_in(result)] == []
    [picture] = PdfReader(io.BytesIO(result)).pages[0].images
    shown = picture.image.convert("RGB")
    assert shown.size == (40, 30)
    assert shown.getpixel((5, 5))[0] < 40 and shown.getpixel((30, 25))[0] > 215
