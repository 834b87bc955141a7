"""The directory file: validation names the bad entry; the import is atomic and idempotent."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from bot.cli import import_directory as cli_import
from storage import cases, unions
from storage.directory import DirectoryError, load, parse
from storage.models import Case, Union, Ward, Workplace
from tests.support import SAMPLE_DIRECTORY, count

SAMPLE = yaml.safe_load(SAMPLE_DIRECTORY.read_text(encoding="utf-8"))


def test_the_sample_is_the_five_da_lat_wards_with_their_old_names():
    directory = load(SAMPLE_DIRECTORY)
    assert directory.root.code == "FED-ROOT"
    assert directory.root.name == "Liên đoàn Lao động tỉnh Lâm Đồng"
    wards = {w.name: set(w.aliases) for w in directory.wards}
    assert wards == {
        "Phường Xuân Hương - Đà Lạt": {"Phường 1", "Phường 2", "Phường 3", "Phường 4", "Phường 10"},
        "Phường Cam Ly - Đà Lạt": {"Phường 5", "Phường 6", "Xã Tà Nung"},
        "Phường Lâm Viên - Đà Lạt": {"Phường 8", "Phường 9", "Phường 12"},
        "Phường Xuân Trường - Đà Lạt": {
            "Phường 11", "Xã Xuân Thọ", "Xã Xuân Trường", "Xã Trạm Hành",
        },
        "Phường Lang Biang - Đà Lạt": {"Phường 7", "Thị trấn Lạc Dương", "Xã Lát"},
    }  # fmt: skip
    with_union = [w for w in directory.workplaces if w.union]
    without = [w for w in directory.workplaces if not w.union]
    assert with_union and without  # both routing rules 1 and 2 can be tried


def _edited(change) -> str:
    data = yaml.safe_load(SAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    change(data)
    return yaml.safe_dump(data, allow_unicode=True)


def _set(path, value):
    def change(data):
        section, index, key = path
        data[section][index][key] = value

    return change


BAD = {
    "unknown parent": (_set(("unions", 3, "parent"), "CL-NOWHERE"), "unions[3] (CL-LAMVIEN)"),
    "second root": (_set(("unions", 2, "parent"), None), "exactly one union"),
    "bad level": (_set(("unions", 1, "level"), "district"), "unions[1] (CL-XUANHUONG): level"),
    "duplicate code": (_set(("unions", 2, "code"), "CL-XUANHUONG"), "'CL-XUANHUONG' appears twice"),
    "no root": (_set(("unions", 0, "parent"), "CL-CAMLY"), "exactly one union"),
    "unknown ward": (
        _set(("workplaces", 2, "ward"), "Phường 99"),
        "workplaces[2] (Nhà hàng Chợ Đêm Phố Núi): ward 'Phường 99'",
    ),
    "unknown union": (
        _set(("workplaces", 0, "union"), "GR-NONE"),
        "workplaces[0] (Công ty CP Khách sạn Thông Xanh): union 'GR-NONE'",
    ),
    "bad tax code": (_set(("workplaces", 1, "tax_code"), "58-ABC"), "workplaces[1]"),
    "negative workers": (_set(("workplaces", 4, "workers"), -3), "workplaces[4]"),
    "missing name": (_set(("wards", 0, "name"), None), "wards[0]: 'name' is missing"),
    "alias in two wards": (
        _set(("wards", 1, "aliases"), ["Phường 5", "Phường 1"]),
        "'phường 1' appears twice",
    ),
    "organizer unknown": (
        _set(("wards", 2, "organizing_union"), "X"),
        "wards[2] (Phường Lâm Viên - Đà Lạt): organizing_union 'X'",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_entry_is_named(case):
    change, expected = BAD[case]
    with pytest.raises(DirectoryError) as error:
        parse(_edited(change))
    assert expected in str(error.value)


def test_a_loop_of_parents_is_refused():
    text = _edited(lambda d: d["unions"][1].update(parent="GR-THONGXANH"))
    with pytest.raises(
        DirectoryError, match=r"unions\[1\] \(CL-XUANHUONG\): its parents form a loop"
    ):
        parse(text)


@pytest.mark.parametrize(
    "text", ["unions: [", "- just\n- a list\n", "wards: []\n", "unions: {a: 1}\n", "unions: [3]\n"]
)
def test_files_that_are_not_directories_are_refused(text):
    with pytest.raises(DirectoryError):
        parse(text)


async def test_import_creates_everything_then_is_idempotent(sessions):
    directory = load(SAMPLE_DIRECTORY)
    async with sessions() as session:
        first = await unions.import_directory(session, directory)
        await session.commit()
    assert (first.created, first.updated, first.unchanged) == (27, 0, 0)
    async with sessions() as session:
        again = await unions.import_directory(session, directory)
        await session.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 27)
    assert await count(sessions, Union) == 12
    assert await count(sessions, Ward) == 5
    assert await count(sessions, Workplace) == 10
    async with sessions() as session:
        root = await unions.root(session)
        lam_vien = await unions.by_code(session, "CL-LAMVIEN")
        assert root is not None and root.code == "FED-ROOT"
        ward = await session.get(Ward, lam_vien.ward_id)
        assert ward.name == "Phường Lâm Viên - Đà Lạt"
        assert lam_vien.parent_id == root.id


async def test_reimporting_an_edited_file_updates_in_place(sessions, clock_now):
    async with sessions() as session:
        await unions.import_directory(session, load(SAMPLE_DIRECTORY))
        union = await unions.by_code(session, "GR-HOAVIEN")
        case = await cases.open(
            session, kind="question", union_id=union.id, person_id=None, text="?", now=clock_now
        )
        await session.commit()
        place_id = (
            await session.scalar(select(Workplace).where(Workplace.tax_code == "5800100005"))
        ).id

    def change(data):
        data["unions"][7]["name"] = "Công đoàn cơ sở Công ty TNHH Hoa Viên (đổi tên)"
        data["workplaces"][4]["name"] = "Công ty TNHH Cà phê Đồi Mây Xanh"  # same tax code
        data["workplaces"][4]["union"] = "GR-HOAVIEN"

    async with sessions() as session:
        report = await unions.import_directory(session, parse(_edited(change)))
        await session.commit()
    assert (report.created, report.updated) == (0, 2)
    async with sessions() as session:
        union = await unions.by_code(session, "GR-HOAVIEN")
        place = await session.get(Workplace, place_id)
        kept = await session.get(Case, case.id)
    assert union.name.endswith("(đổi tên)")
    assert (place.name, place.union_id) == ("Công ty TNHH Cà phê Đồi Mây Xanh", union.id)
    assert kept.union_id == union.id


async def test_the_command_imports_nothing_from_a_bad_file(settings, sessions, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(_edited(_set(("workplaces", 9, "union"), "GR-GONE")), encoding="utf-8")
    assert await cli_import(settings, str(bad)) == 1
    err = capsys.readouterr().err
    assert "nothing imported" in err
    assert "workplaces[9] (Công ty TNHH Xây dựng Trạm Hành): union 'GR-GONE'" in err
    assert await count(sessions, Union) == 0

    assert await cli_import(settings, str(SAMPLE_DIRECTORY)) == 0
    assert "12 unions, 5 wards, 10 workplaces (27 created" in capsys.readouterr().out
    assert await count(sessions, Union) == 12
