"""Outreach posters: the QR code reads back to the link, the PDF's Vietnamese text reads back
whole, no character falls back to a missing glyph, and long texts stay on the page.
The rendered posters are saved in artifacts/posters/ for a reviewer to look at."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import replace

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from bot.config import CONTENT_DIR
from bot.services import posters
from bot.services.i18n import Catalogs
from bot.services.posters import Poster, PosterError
from tests.support import ROOT

FONTS = CONTENT_DIR / "fonts"
ARTIFACTS = ROOT / "artifacts" / "posters"
SAMPLE = Poster(
    union="Công đoàn phường Lâm Viên - Đà Lạt",
    label="Tết 2027 ở khu công nghiệp Phú Hội",
    qr_url="https://bot.example.vn/chat?start=k7m2x9qa",
    links=(
        ("Telegram", "https://t.me/congdoan_bot?start=k7m2x9qa"),
        ("Zalo", "https://zalo.me/1234567890"),
        ("Web", "https://bot.example.vn/chat?start=k7m2x9qa"),
    ),
    code="k7m2x9qa",
)
# Every Vietnamese vowel with every tone mark (none, huyền, sắc, hỏi, ngã, nặng), and đ.
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
LETTERS = "".join(
    unicodedata.normalize("NFC", vowel + tone) for vowel in "aăâeêioôơuưy" for tone in TONES
)
VIETNAMESE = LETTERS + LETTERS.upper() + "đĐ"


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs(CONTENT_DIR / "locales")


def _save(name: str, data: bytes) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)


def _words(text: str) -> str:
    """Text as read back from a PDF, its line breaks as spaces."""
    return " ".join(text.split())


def _read(document: bytes) -> str:
    reader = PdfReader(io.BytesIO(document))
    return _words("\n".join(page.extract_text() for page in reader.pages))


def test_the_png_is_a4_at_150_dpi_and_its_qr_code_reads_back_to_the_link(catalogs):
    with catalogs.activate("vi"):
        picture = posters.png(SAMPLE, FONTS)
    _save("poster-vi.png", picture)
    image = Image.open(io.BytesIO(picture))
    assert image.size == (1240, 1754)
    assert [round(d) for d in image.info["dpi"]] == [150, 150]
    [found] = zxingcpp.read_barcodes(image)
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    assert found.text == SAMPLE.qr_url


def test_the_pdf_is_one_a4_page_whose_vietnamese_text_reads_back_whole(catalogs):
    with catalogs.activate("vi"):
        document = posters.pdf(SAMPLE, FONTS)
    _save("poster-vi.pdf", document)
    reader = PdfReader(io.BytesIO(document))
    [page] = reader.pages
    assert (round(page.mediabox.width), round(page.mediabox.height)) == (595, 842)  # A4 in pt
    fonts = page["/Resources"]["/Font"].values()
    assert all("/FontFile2" in font.get_object()["/DescendantFonts"][0]["/FontDescriptor"]
               for font in fonts)  # fmt: skip
    text = _read(document)
    assert unicodedata.is_normalized("NFC", text)
    for line in (
        "Công đoàn luôn bên bạn",
        "Công đoàn phường Lâm Viên - Đà Lạt",
        "Tết 2027 ở khu công nghiệp Phú Hội",
        "Hỏi về lương, bảo hiểm xã hội, nghỉ phép và quyền lợi của bạn",
        "Gửi phản ánh về nơi làm việc, có thể ẩn danh",
        "Đăng ký gia nhập công đoàn",
        "Quét mã QR bằng Zalo hoặc Telegram",
        "Mã: k7m2x9qa",
        "Telegram: t.me/congdoan_bot?start=k7m2x9qa",
        "Zalo: zalo.me/1234567890",
        "Bạn có thể gửi phản ánh ẩn danh: cán bộ không thấy tên, tài khoản hay số điện thoại "
        "của bạn. Trợ lý không bao giờ báo cho công ty biết bạn đã nhắn cho công đoàn.",
    ):
        assert line in text


def test_every_vietnamese_letter_has_a_glyph_and_a_missing_one_refuses_to_render(catalogs):
    assert len(VIETNAMESE) == 2 * 12 * 6 + 2
    for font in (posters.REGULAR, posters.BOLD):
        assert posters.missing_glyphs(VIETNAMESE, FONTS / font) == set()
        # Decomposed text is drawn composed, so it needs no combining marks either.
        decomposed = unicodedata.normalize("NFD", VIETNAMESE)
        assert posters.missing_glyphs(decomposed, FONTS / font) == set()
        assert posters.missing_glyphs("Công đoàn 工会 🙂", FONTS / font) == {"工", "会", "🙂"}
    every_letter = Poster(
        union=VIETNAMESE[:80], label=unicodedata.normalize("NFD", VIETNAMESE[80:]),
        qr_url="https://bot.example.vn/chat?start=abc", links=(), code="abc",
    )  # fmt: skip
    with catalogs.activate("vi"):
        assert VIETNAMESE in _read(posters.pdf(every_letter, FONTS)).replace(" ", "")
        for render in (posters.png, posters.pdf):
            with pytest.raises(PosterError, match=r"U\+5DE5"):
                render(Poster("Công đoàn 工会", "", "https://x.vn", (), "abc"), FONTS)


def test_long_texts_wrap_inside_the_page_and_too_much_text_is_refused(catalogs):
    label = (
        "Tết Nguyên đán 2027 cho công nhân các doanh nghiệp may mặc, da giày và chế biến "
        "nông sản ở khu công nghiệp Phú Hội, Đức Trọng"
    )
    assert len(label) >= 120
    poster = replace(SAMPLE, label=label)
    with catalogs.activate("vi"):
        page = posters.layout(poster, FONTS)
        _save("poster-long-label-vi.png", posters.png(poster, FONTS))
        assert label in _read(posters.pdf(poster, FONTS))
        label_lines = [op.text for op in page if _is_label(op)]
        assert len(label_lines) >= 2 and " ".join(label_lines) == label
        _assert_inside(page)
        huge = replace(SAMPLE, union="Công đoàn " * 30, label=label * 5)
        page = posters.layout(huge, FONTS)
        _assert_inside(page)
        assert [op.text for op in page if _is_label(op)][-1].endswith("…")
        with pytest.raises(PosterError, match="do not fit"):
            posters.layout(replace(SAMPLE, links=SAMPLE.links * 5), FONTS)
        with pytest.raises(PosterError, match="too long for a QR code"):
            posters.layout(replace(SAMPLE, qr_url="https://x.vn/" + "a" * 3000), FONTS)


def _is_label(op: posters.Op) -> bool:
    return isinstance(op, posters.Text) and op.colour == posters.GREY and not op.bold


def _assert_inside(page: list[posters.Op]) -> None:
    """Every line and shape lies within the page's margins."""
    low, high = posters.MARGIN - 0.01, posters.PAGE_WIDTH - posters.MARGIN + 0.01
    bottom = posters.PAGE_HEIGHT - posters.MARGIN + 0.01
    for op in page:
        if isinstance(op, posters.Text):
            assert low <= op.x and op.x + op.width <= high, op
            assert low <= op.y - op.size * posters.PT and op.y <= bottom, op
        else:
            for x, y, w, h in op.rects:
                assert low <= x and x + w <= high and low <= y and y + h <= bottom, op


def test_the_fonts_ship_with_their_license():
    license_text = (FONTS / "LICENSE").read_text(encoding="utf-8")
    assert "Bitstream Vera" in license_text and "Arev" in license_text
