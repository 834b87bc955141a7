"""Evidence is scrubbed of hidden data: EXIF GPS, camera, comments, PDF authors and XMP."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter

from bot.services import scrubber
from bot.services.scrubber import Unusable
from tests.support import jpeg_with_gps, pdf_with_metadata


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
