"""The router keeps the four rules of DESIGN.md with messy spellings, and does not guess."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.router import Route, Router
from storage import unions
from storage.directory import load, parse
from tests.support import SAMPLE_DIRECTORY

SAMPLE = Router(load(SAMPLE_DIRECTORY))
XUAN_HUONG = "Phường Xuân Hương - Đà Lạt"
CAM_LY = "Phường Cam Ly - Đà Lạt"
LAM_VIEN = "Phường Lâm Viên - Đà Lạt"
XUAN_TRUONG = "Phường Xuân Trường - Đà Lạt"
LANG_BIANG = "Phường Lang Biang - Đà Lạt"
MILK = "Công ty TNHH Sữa Cao Nguyên"
HOTEL = "Công ty CP Khách sạn Thông Xanh"
COFFEE = "Công ty TNHH Cà phê Đồi Mây"


@pytest.mark.parametrize(
    ("workplace", "ward", "expected"),
    [
        # Rule 1: a workplace with a union, however it is typed; its own ward is reported.
        ("Công ty TNHH Sữa Cao Nguyên", None, Route("GR-SUACAONGUYEN", MILK, CAM_LY, 1)),
        ("cty sua cao nguyen", None, Route("GR-SUACAONGUYEN", MILK, CAM_LY, 1)),
        ("SỮA CAO NGUYÊN", "phường 8", Route("GR-SUACAONGUYEN", MILK, CAM_LY, 1)),
        ("nha may sua cao nguyenn", None, Route("GR-SUACAONGUYEN", MILK, CAM_LY, 1)),
        ("ks thông xanh", None, Route("GR-THONGXANH", HOTEL, XUAN_HUONG, 1)),
        ("khach san thong xanh", None, Route("GR-THONGXANH", HOTEL, XUAN_HUONG, 1)),
        (
            "Cong ty co phan Khach san Thong Xanhh",
            None,
            Route("GR-THONGXANH", HOTEL, XUAN_HUONG, 1),
        ),
        ("5800100006", None, Route("GR-SUACAONGUYEN", MILK, CAM_LY, 1)),
        ("MST: 5800-100-006", None, Route("GR-SUACAONGUYEN", MILK, CAM_LY, 1)),
        (
            "may lang bian",
            None,
            Route("GR-MAYLANGBIANG", "Công ty TNHH May Lang Biang", LANG_BIANG, 1),
        ),
        # Rule 2: a workplace without a union → its ward's organizing union.
        ("Cà phê Đồi Mây", None, Route("CL-LAMVIEN", COFFEE, LAM_VIEN, 2)),
        ("cafe doi may", "xuân trường", Route("CL-XUANTRUONG", None, XUAN_TRUONG, 3)),
        ("ca phe doi may", "xuân trường", Route("CL-LAMVIEN", COFFEE, LAM_VIEN, 2)),
        ("htx rau ta nung", None, Route("CL-CAMLY", "Hợp tác xã Rau sạch Tà Nung", CAM_LY, 2)),
        (
            "5800100010",
            None,
            Route("CL-XUANTRUONG", "Công ty TNHH Xây dựng Trạm Hành", XUAN_TRUONG, 2),
        ),
        # Rule 3: an unknown workplace in a known ward, new name or an old one.
        ("quán phở nhỏ", "Lâm Viên", Route("CL-LAMVIEN", None, LAM_VIEN, 3)),
        ("quan pho", "lam vein", Route("CL-LAMVIEN", None, LAM_VIEN, 3)),
        ("tiệm bánh", "Phường 8", Route("CL-LAMVIEN", None, LAM_VIEN, 3)),
        ("tiem banh", "P.08", Route("CL-LAMVIEN", None, LAM_VIEN, 3)),
        ("tiem banh", "p11", Route("CL-XUANTRUONG", None, XUAN_TRUONG, 3)),
        ("tiem banh", "phuong 1", Route("CL-XUANHUONG", None, XUAN_HUONG, 3)),
        (None, "xã Tà Nung", Route("CL-CAMLY", None, CAM_LY, 3)),
        ("", "thi tran lac duong", Route("CL-LANGBIANG", None, LANG_BIANG, 3)),
        (None, "PHƯỜNG XUÂN HƯƠNG - ĐÀ LẠT", Route("CL-XUANHUONG", None, XUAN_HUONG, 3)),
        # Rule 4: nothing recognised.
        ("quán phở nhỏ", "phường 18", Route("FED-ROOT", None, None, 4)),
        ("cty", "Đà Lạt", Route("FED-ROOT", None, None, 4)),
        ("quan pho", None, Route("FED-ROOT", None, None, 4)),  # not "Hồ Xuân" by two typos
        (None, "Xuân", Route("FED-ROOT", None, None, 4)),  # Xuân Hương or Xuân Trường?
        (None, None, Route("FED-ROOT", None, None, 4)),
        ("1234567890", None, Route("FED-ROOT", None, None, 4)),
    ],
)
def test_the_four_rules_with_messy_spellings(workplace, ward, expected):
    assert SAMPLE.route(workplace, ward) == expected


def test_numbers_match_exactly():
    assert SAMPLE.match_ward("Phường 1") == (XUAN_HUONG,)
    assert SAMPLE.match_ward("Phường 11") == (XUAN_TRUONG,)
    assert SAMPLE.match_ward("Phường 13") == ()


def test_a_run_of_digits_longer_than_int_takes_is_routed_like_any_text():
    # int() refuses strings of more than 4300 digits; a pasted run of them is still text.
    assert SAMPLE.route("1" * 5000, "0" * 5000 + "1").rule in (1, 2, 3, 4)


TIED = parse(
    """
unions:
  - {code: ROOT, name: Liên đoàn, level: federation, parent: null, ward: null}
  - {code: CL-A, name: Công đoàn phường An, level: cluster, parent: ROOT, ward: Phường An}
  - {code: GR-1, name: CĐCS Hoa Mai 1, level: grassroots, parent: CL-A, ward: Phường An}
  - {code: GR-2, name: CĐCS Hoa Mai 2, level: grassroots, parent: CL-A, ward: Phường An}
wards:
  - {name: Phường An, aliases: [Phường Hoà An], organizing_union: CL-A}
  - {name: Phường Bình, aliases: [Phường Hòa Bình], organizing_union: ROOT}
workplaces:
  - {name: Công ty TNHH Hoa Mai, aliases: [], tax_code: "5800000001", ward: Phường An, union: GR-1}
  - {name: Công ty CP Hoa Mai, aliases: [], tax_code: "5800000002", ward: Phường An, union: GR-2}
"""
)


def test_equally_good_candidates_are_not_guessed():
    router = Router(TIED)
    # "Hoa Mai" is both companies once the legal forms are set aside: ask, do not pick.
    assert router.match_workplace("cty hoa mai") == ("Công ty TNHH Hoa Mai", "Công ty CP Hoa Mai")
    assert router.route("cty hoa mai", "phuong hoa an") == Route("CL-A", None, "Phường An", 3)
    assert router.route("cty hoa mai", None) == Route("ROOT", None, None, 4)
    # The tax code tells them apart.
    assert router.route("5800000002", None) == Route("GR-2", "Công ty CP Hoa Mai", "Phường An", 1)
    # New and old spellings of one tone (hoà/hòa) are the same word.
    assert router.match_ward("phường hòa an") == ("Phường An",)


@settings(max_examples=200, deadline=None)
@given(workplace=st.one_of(st.none(), st.text(max_size=80)), ward=st.one_of(st.none(), st.text()))
def test_any_text_gets_a_valid_route(workplace, ward):
    decision = SAMPLE.route(workplace, ward)
    assert decision.rule in (1, 2, 3, 4)
    assert (decision.workplace is None) == (decision.rule in (3, 4))
    assert (decision.ward is None) == (decision.rule == 4)


async def test_the_database_directory_routes_like_the_file(sessions):
    async with sessions() as session:
        await unions.import_directory(session, load(SAMPLE_DIRECTORY))
        await session.commit()
        from_db = Router(await unions.directory(session))
    for workplace, ward in [("cty sua cao nguyen", None), ("x", "p9"), ("ca phe doi may", None)]:
        assert from_db.route(workplace, ward) == SAMPLE.route(workplace, ward)


async def test_no_directory_before_an_import(sessions):
    async with sessions() as session:
        assert await unions.directory(session) is None
