"""The knowledge base: content complete and valid, text folding, shorthand, typos, and the
search landing questions (our own, written apart from the articles) on the right topic."""

from __future__ import annotations

import shutil
import unicodedata
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.config import CONTENT_DIR
from bot.services.i18n import Catalogs
from bot.services.knowledge import check, load_taxonomy, parse_article
from bot.services.text import accent_key, fold
from bot.services.vocabulary import ContentError
from handlers import faq

QUESTIONS = yaml.safe_load((Path(__file__).parent / "faq_questions.yaml").read_text("utf-8"))
TAXONOMY = load_taxonomy(CONTENT_DIR / "taxonomy.yaml")
TOPIC_IDS = [topic for group in TAXONOMY for topic in group.topics]


# ---------------------------------------------------------------------------- content


def test_the_taxonomy_has_58_topics_in_four_groups():
    assert [group.id for group in TAXONOMY] == ["join", "rights", "support", "service"]
    assert len(TOPIC_IDS) == len(set(TOPIC_IDS)) == 58


def test_the_knowledge_base_is_complete_and_valid_today():
    report = check(CONTENT_DIR, date(2026, 11, 25))
    assert report.problems == ()
    assert report.stale == ()
    assert report.ok


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_topic_has_an_article_with_sources_and_examples(knowledge, language):
    articles = knowledge.articles[language]
    assert sorted(articles) == sorted(TOPIC_IDS)
    for article in articles.values():
        assert article.sources and all(len(s) > 10 for s in article.sources), article.path
        assert len(article.questions) >= 8, article.path
        assert article.next and set(article.next) <= {"ask", "report", "join", "support"}
        assert 200 < len(article.body) < 2000, article.path
        assert "**" not in article.body and "\n#" not in article.body, article.path
        vi = knowledge.articles["vi"][article.id]
        assert (article.sources, article.valid_until) == (vi.sources, vi.valid_until)


def test_vietnamese_examples_include_unaccented_and_shorthand_phrasings(knowledge):
    shorthand = {"ko", "k", "dc", "đc", "cty", "e", "mn", "j", "ntn", "r", "v", "bhxh", "cđ"}
    for article in knowledge.articles["vi"].values():
        plain = [q for q in article.questions if fold(q) == q.lower()]
        chat = [q for q in article.questions if shorthand & set(q.lower().split())]
        assert len(plain) >= 2, f"{article.path}: needs questions without diacritics"
        assert len(chat) >= 2, f"{article.path}: needs questions in chat shorthand"


def test_figures_that_change_on_a_date_say_until_when(knowledge):
    dated = {a.id for a in knowledge.articles["vi"].values() if a.valid_until}
    assert {"rights.minimum_wage", "join.dues", "rights.social_insurance"} <= dated
    wage = knowledge.articles["vi"]["rights.minimum_wage"]
    assert "4.730.000" in wage.body and "Vùng II" in wage.body  # Đà Lạt, Decree 293/2025
    dues = knowledge.articles["vi"]["join.dues"]
    assert "0,5%" in dues.body and "253.000" in dues.body


def write_article(folder: Path, topic: str, **changes: object) -> Path:
    meta = {
        "id": topic,
        "title": "Lương tối thiểu vùng",
        "questions": [f"lương tối thiểu {n}" for n in range(8)],
        "sources": ["Nghị định 293/2025/NĐ-CP, Điều 3"],
        "updated": date(2026, 1, 1),
        "valid_until": date(2026, 12, 31),
        "next": ["ask"],
    } | changes
    path = folder / f"{topic}.md"
    path.write_text(f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\nMức lương.\n", "utf-8")
    return path


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"id": "rights.other"}, "must equal the file name"),
        ({"sources": []}, "'sources' is missing"),
        ({"questions": ["một", "hai"]}, "at least 8 example questions"),
        ({"next": ["call"]}, "unknown next step 'call'"),
        ({"updated": "hôm qua"}, "'updated' must be a date"),
        ({"valid_from": date(2027, 1, 1)}, "valid_from is after valid_until"),
        # Not a list and not iterable either: refused like any other wrong list.
        ({"keywords": 5}, "'keywords' must be a list of non-empty texts"),
    ],
)
def test_a_malformed_article_is_refused_with_the_reason(tmp_path, changes, complaint):
    path = write_article(tmp_path, "rights.minimum_wage", **changes)
    with pytest.raises(ContentError, match=complaint):
        parse_article(path, "vi")


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "- join\n", "join: Gia nhập\n"])
def test_a_taxonomy_that_is_not_a_mapping_of_groups_is_refused(tmp_path, text):
    """An empty file reads as None; it is reported like any other bad taxonomy."""
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError, match="must map each group id"):
        load_taxonomy(path)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, copy, ignore=shutil.ignore_patterns("directory", "locales"))
    return copy


def test_content_check_lists_stale_and_soon_stale_articles_by_a_fixed_clock(content_copy):
    assert check(content_copy, date(2026, 11, 25)).ok
    soon = check(content_copy, date(2026, 12, 1))
    assert soon.ok and "rights.minimum_wage" in {a.id for a in soon.soon_stale}
    later = check(content_copy, date(2027, 1, 2))
    assert not later.ok
    assert {(a.id, a.language) for a in later.stale} >= {
        ("rights.minimum_wage", "vi"),
        ("rights.minimum_wage", "en"),
    }


def test_content_check_reports_a_missing_translation(content_copy):
    (content_copy / "faq" / "en" / "rights.strike.md").unlink()
    report = check(content_copy, date(2026, 11, 25))
    assert [p for p in report.problems if "rights.strike" in p] == [
        f"{content_copy}/faq/en/rights.strike.md: missing"
    ]


def test_a_stale_answer_carries_a_plain_warning(knowledge):
    catalogs = Catalogs(CONTENT_DIR / "locales")
    article = knowledge.articles["vi"]["rights.minimum_wage"]
    with catalogs.activate("vi"):
        fresh = faq.render(article, date(2026, 12, 31))
        stale = faq.render(article, date(2027, 1, 1))
    assert "⚠️" not in fresh and "Căn cứ: Nghị định 293/2025" in fresh
    assert stale.startswith(fresh)
    assert stale.endswith(
        "⚠️ Các con số ở trên áp dụng đến ngày 31/12/2026, có thể đã thay đổi. "
        "Bạn hãy hỏi cán bộ công đoàn để biết con số mới nhất."
    )


# ---------------------------------------------------------------------------- text


def test_folding_ignores_unicode_form_tone_placement_case_and_d_stroke():
    nfc = unicodedata.normalize("NFC", "Đoàn phí công đoàn")
    nfd = unicodedata.normalize("NFD", "Đoàn phí công đoàn")
    assert nfc != nfd and fold(nfc) == fold(nfd) == "doan phi cong doan"
    assert accent_key("hoá") == accent_key("hóa") == accent_key(unicodedata.normalize("NFD", "hoá"))
    assert accent_key("thuỷ") == accent_key("thủy")
    assert accent_key("hồng") != accent_key("hông")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("cty ko tra luong", "công ty không tra luong"),
        ("bhxh dc ko", "bảo hiểm xã hội được không"),
        ("nlđ tăng ca", "người lao động làm thêm giờ"),
        ("OT", "làm thêm giờ"),
        ("cđcs", "công đoàn cơ sở"),
    ],
)
def test_shorthand_and_phrases_are_expanded(knowledge, typed, meant):
    reader = knowledge.matchers["vi"].reader
    assert [fold(w) for w in reader.tokens(typed)] == fold(meant).split()


def test_a_shorthand_key_with_diacritics_does_not_take_another_word(knowledge):
    # "hông" is chat for "không", but "hồng" (hoa hồng, commission) is a word of its own.
    reader = knowledge.matchers["vi"].reader
    assert reader.tokens("hông") == [accent_key("không")]
    assert reader.tokens("hồng") == [accent_key("hồng")]


def test_typos_are_corrected_towards_the_words_the_matcher_was_trained_on(knowledge):
    reader = knowledge.matchers["vi"].reader

    def read(text: str) -> list[str]:
        return reader.folded(reader.tokens(text))

    assert read("luongg") == ["luong"]
    assert "nghiep" in read("that nghiepp")
    assert read("congdoan")[:2] == ["cong", "doan"]


# ---------------------------------------------------------------------------- search

# A few dozen representative questions, written for this test, that must land exactly.
REPRESENTATIVE = {
    "cty no luong 2 thang roi phai lam sao": "rights.wage_payment",
    "Công ty nợ lương hai tháng rồi, em phải làm sao?": "rights.wage_payment",
    "Công ty nợ lương hai tháng rồi, em phải làm sao?".upper(): "rights.wage_payment",
    unicodedata.normalize("NFD", "Công ty nợ lương hai tháng"): "rights.wage_payment",
    "luong toi thieu vung 2 o da lat bao nhieu": "rights.minimum_wage",
    "lương tối thiểu vùng năm 2026": "rights.minimum_wage",
    "thu viec may thang, luong thu viec bao nhieu %": "rights.probation",
    "OT 1 tháng tối đa bn giờ v mn": "rights.overtime",
    "tang ca ngay chu nhat tinh luong sao": "rights.overtime",
    "lam ca dem co duoc phu cap them khong": "rights.night_work",
    "mỗi năm được nghỉ phép mấy ngày": "rights.annual_leave",
    "tet duong lich duoc nghi may ngay": "rights.public_holidays",
    "cty ko đóng bhxh cho e thì sao": "rights.social_insurance",
    "rut bhxh 1 lan duoc khong": "rights.social_insurance",
    "nghỉ việc rồi làm hồ sơ hưởng bảo hiểm thất nghiệp ở đâu": "rights.unemployment_insurance",
    "vợ sinh con chồng được nghỉ mấy ngày": "rights.maternity",
    "nghi om co duoc huong bhxh khong": "rights.sick_leave",
    "bị đuổi việc không báo trước": "rights.dismissal",
    "muốn nghỉ việc phải báo trước bao nhiêu ngày": "rights.resignation",
    "tro cap thoi viec tinh the nao": "rights.severance",
    "lam vo do cty tru luong phat tien co dung khong": "rights.discipline",
    "xưởng nóng quá không có đồ bảo hộ": "rights.safety",
    "bi quay roi tinh duc o cho lam": "rights.harassment",
    "muốn đình công thì làm sao": "rights.strike",
    "mấy tuổi thì được nghỉ hưu": "rights.retirement",
    "đoàn phí mỗi tháng đóng bao nhiêu": "join.dues",
    "kinh phí công đoàn 2% ai đóng": "join.union_fund",
    "nguoi nuoc ngoai co duoc vao cong doan khong": "join.eligibility",
    "cty chưa có công đoàn thì e vô cđ ở đâu": "join.no_union_at_workplace",
    "bị tai nạn lao động khi đang làm": "support.work_accident",
    "đoàn viên bị ung thư công đoàn có hỗ trợ không": "support.serious_illness",
    "mai am cong doan la gi": "support.housing",
    "tư vấn pháp luật miễn phí cho công nhân": "support.legal_aid",
    "bão lũ làm sập nhà, công đoàn có giúp không": "support.disaster",
    "gửi phản ánh ẩn danh được không, công ty có biết không": "service.anonymity_privacy",
    "xem hồ sơ đã gửi tới đâu rồi": "service.case_status",
    "My company has not paid my salary for two months": "rights.wage_payment",
    "can foreign workers join the union": "join.eligibility",
}
DECLINED = [
    "xổ số miền bắc hôm nay",
    "thoi tiet da lat ngay mai",
    "tối nay mấy giờ đá bóng",
    "app vay tien nao uy tin",
    "gia vang hom nay",
    "what is the weather tomorrow",
    "asdkjh qwepoi zxcmnb",
    "???",
    "12345",
]


@pytest.mark.parametrize("text", REPRESENTATIVE)
def test_representative_questions_land_on_their_topic(knowledge, text):
    match = knowledge.search(text, "vi")
    assert match.topic == REPRESENTATIVE[text], match


@pytest.mark.parametrize("text", DECLINED)
def test_out_of_scope_messages_are_declined(knowledge, text):
    match = knowledge.search(text, "vi")
    assert match.topic is None and match.declined, match
    assert match.suggestions == ()


def test_small_talk_is_recognised_as_such(knowledge):
    for row in QUESTIONS["smalltalk"]:
        assert knowledge.search(row["q"], "vi").smalltalk == row["kind"], row["q"]
    assert knowledge.search("chào bạn, cty nợ lương thì sao", "vi").smalltalk is None


def test_quality_on_our_own_question_set(knowledge):
    """Our own questions (tests/services/faq_questions.yaml, written without looking at the
    articles, and never used to train or tune the matcher: held out)."""
    right: dict[str, list[bool]] = defaultdict(list)
    for row in QUESTIONS["in_scope"]:
        right[row["style"]].append(knowledge.search(row["q"], "vi").topic == row["topic"])
    declined = [knowledge.search(row["q"], "vi").topic is None for row in QUESTIONS["out_of_scope"]]
    share = {style: sum(hits) / len(hits) for style, hits in right.items()}
    assert share["accented"] >= 0.9, share
    assert share["unaccented"] >= 0.9, share
    assert share["teencode"] >= 0.85, share
    assert sum(declined) / len(declined) >= 0.85
    vague = [knowledge.search(row["q"], "vi") for row in QUESTIONS["ambiguous"]]
    assert sum(m.topic is None for m in vague) / len(vague) >= 0.8
    assert sum(bool(m.suggestions) for m in vague if m.topic is None) >= 0.8 * len(vague)


@pytest.mark.parametrize("text", ["bảo hiểm", "bao hiem"])
def test_when_unsure_the_likeliest_topics_are_suggested(knowledge, text):
    match = knowledge.search(text, "vi")
    assert match.topic is None and not match.declined
    assert 2 <= len(match.suggestions) <= 3
    assert {"rights.social_insurance", "rights.health_insurance"} <= set(match.suggestions)


def test_english_questions_are_searched_in_the_english_articles(knowledge):
    match = knowledge.search("how many days of annual leave do I get", "vi")
    assert (match.topic, match.language) == ("rights.annual_leave", "en")


def test_a_theme_groups_wordings_of_one_question(knowledge):
    one = knowledge.theme("Xin hỏi lương tháng 13 có bắt buộc không ạ?", "vi")
    two = knowledge.theme("luong thang 13 co bat buoc ko", "vi")
    assert one == two and one


# ---------------------------------------------------------------------------- safe replies

SAFE_REPLIES = {
    "bạn là ai": "identity",
    "BAN LA AI": "identity",
    "m là ai v": "identity",
    "có phải người thật không ạ": "identity",
    "am I talking to a bot?": "identity",
    "bạn nghĩ gì về đảng và nhà nước": "politics",
    "ý kiến của bạn về Đảng Cộng sản": "politics",
    "đi bầu cử đại biểu quốc hội ở đâu": "politics",
    "what do you think about politics in vietnam": "politics",
    "em vay nặng lãi bị xã hội đen đến nhà dọa chém": "danger",
    "bi giang ho doi no thue khung bo dien thoai": "danger",
    "my boss beat me up and said he will kill me": "danger",
    "👍": "thanks",
    "🙏🏽🙏🏽": "thanks",
    "✅": "thanks",
    "💯": "thanks",
    "😂😂": "emoji",
}


@pytest.mark.parametrize("text", SAFE_REPLIES)
def test_safe_replies_are_recognised(knowledge, text):
    match = knowledge.search(text, "vi")
    assert (match.smalltalk, match.topic) == (SAFE_REPLIES[text], None), match


@pytest.mark.parametrize(
    "text",
    [
        "tôi đang làm ở công ty may, bị nợ lương",
        "cty dang no luong 2 thang",
        "đảng viên có được vào công đoàn không",
        "công đoàn có thuộc Mặt trận Tổ quốc không",
        "cđ có phải của đảng không",
        "chế độ thai sản bao nhiêu tháng",
        "làm doanh nghiệp nhà nước có phải vào công đoàn không",
        "bị công ty đe dọa đuổi việc vì vào công đoàn",
        "em bị đánh giá không đạt thử việc",
        "app vay tien nao uy tin",
        "chủ tịch công đoàn là ai",
        "???",
    ],
)
def test_ordinary_questions_are_not_taken_for_politics_or_danger(knowledge, text):
    assert knowledge.search(text, "vi").smalltalk not in ("politics", "danger", "identity")


def test_a_one_word_politics_key_needs_its_diacritics(knowledge):
    # "dang" is far more often "đang" (now) than "đảng" (the Party).
    vocabulary = knowledge.vocabulary

    def signal(text: str) -> str | None:
        return vocabulary.signal(vocabulary.tokens(text))

    assert signal("ý kiến về Đảng") == "politics"
    assert signal("y kien ve dang") is None
    assert signal("y kien ve dang va nha nuoc") == "politics"
    assert signal("ý kiến về đang và nhà nước") is None


def test_a_threat_keeps_the_answer_of_a_confident_topic(knowledge):
    match = knowledge.search("chủ nợ dọa đánh vì công ty nợ lương", "vi")
    assert (match.smalltalk, match.topic) == ("danger", "rights.wage_payment")


def test_emoji_with_modifiers_count_as_the_plain_emoji(knowledge):
    for text in ("👍", "👍🏻", "👍\ufe0f", "❤", "❤️", "♥️"):
        assert knowledge.vocabulary.smalltalk(text) == "thanks", text
    assert knowledge.vocabulary.smalltalk("👍 cty nợ lương") is None


SAFE_LISTS = ["identity", "politics", "danger", "work", "harmless", "thanks_emoji"]


@pytest.mark.parametrize("key", SAFE_LISTS)
def test_a_malformed_safe_reply_list_is_refused(content_copy, key):
    path = content_copy / "vocabulary.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data[key] = {"not": "a list"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    problems = check(content_copy, date(2026, 11, 25)).problems
    assert [p for p in problems if "vocabulary.yaml" in p] == [
        f"{path}: '{key}' must list texts (quote yes, no, on, off)"
    ]
