"""The trained FAQ matcher: served with numpy exactly as scikit-learn trained it, stored
without pickles, rebuilt only when its examples change, the three outcomes of the decision,
and training data that must name real topics."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from bot.config import CONTENT_DIR
from bot.services import training
from bot.services.knowledge import Knowledge, check
from bot.services.matcher import (
    ANSWER,
    DECLINE,
    FORMAT,
    OUT_OF_SCOPE,
    UNCLEAR,
    UNSURE,
    Model,
    Params,
    decide,
    decide_message,
    question_part,
)
from bot.services.text import fold
from bot.services.training import Example
from bot.services.vocabulary import ContentError, Vocabulary
from tests.support import shared_knowledge

VOCABULARY = Vocabulary.load(CONTENT_DIR / "vocabulary.yaml")
SMALL = [
    Example("công ty nợ lương hai tháng", "rights.wage_payment"),
    Example("cty cham tra luong", "rights.wage_payment"),
    Example("lương về trễ cả tuần rồi", "rights.wage_payment"),
    Example("tăng ca quá nhiều giờ", "rights.overtime"),
    Example("lam them gio co duoc tra gap ruoi khong", "rights.overtime"),
    Example("OT chủ nhật tính lương sao", "rights.overtime"),
    Example("giá vàng hôm nay", OUT_OF_SCOPE),
    Example("xo so mien nam", OUT_OF_SCOPE),
    Example("tối nay đá bóng mấy giờ", OUT_OF_SCOPE),
]


def small_model(kind: str = "logistic") -> Model:
    return training.fit(SMALL, VOCABULARY, "vi", Params(kind=kind, c=10.0), "test")


@pytest.mark.parametrize("kind", ["logistic", "svm"])
def test_serving_gives_the_trained_models_own_scores(kind):
    """numpy serving (tf-idf of three bags, then the linear model) against scikit-learn's
    pipeline on the same bags: the same scores, so what was validated is what is served."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    model = small_model(kind)
    reader = training.Reader(VOCABULARY, "vi", model.params.chars)
    bags = [reader.features(e.text) for e in SMALL]
    vectorizers = [
        TfidfVectorizer(analyzer=lambda b, n=name: b[n], sublinear_tf=True, dtype=np.float32)
        for name in ("words", "accented", "chars")
    ]
    matrix = hstack([v.fit_transform(bags) for v in vectorizers]).tocsr()
    reference = (
        LogisticRegression(C=10.0, max_iter=3000) if kind == "logistic" else LinearSVC(C=10.0)
    )
    reference.fit(matrix, [e.label for e in SMALL])
    for text in ("cty no luong", "tăng ca chủ nhật", "hôm nay giá vàng", "không có chữ nào quen"):
        row = hstack([v.transform([reader.features(text)]) for v in vectorizers]).tocsr()
        expected = reference.decision_function(row)[0]
        served = np.log(model.plain_probabilities(text))
        # Scores are equal up to a constant (softmax drops it): compare the differences.
        assert np.allclose(served - served[0], expected - expected[0], atol=1e-4), text


def test_a_model_is_stored_without_pickles_and_loads_the_same(tmp_path):
    model = small_model()
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as data:  # would raise on any pickled object
        assert "coef" in data
    loaded = Model.load(path, VOCABULARY)
    for text in ("cty no luong 2 thang", "OT bao nhieu", "xổ số"):
        assert np.allclose(loaded.plain_probabilities(text), model.plain_probabilities(text))
    assert loaded.classes == model.classes and loaded.fingerprint == "test"


def test_a_model_of_another_format_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "old.npz"
    monkeypatch.setattr("bot.services.matcher.FORMAT", FORMAT + 1)
    small_model().save(path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="format"):
        Model.load(path, VOCABULARY)


CLASSES = ("rights.overtime", "rights.wage_payment", OUT_OF_SCOPE, UNCLEAR)
PARAMS = Params(answer_at=0.5, decline_at=0.6)


@pytest.mark.parametrize(
    ("probabilities", "outcome", "topic", "offered"),
    [
        ([0.7, 0.2, 0.05, 0.05], ANSWER, "rights.overtime", ("rights.wage_payment",)),
        ([0.45, 0.35, 0.1, 0.1], UNSURE, None, ("rights.overtime", "rights.wage_payment")),
        ([0.05, 0.05, 0.85, 0.05], DECLINE, None, ()),
        # out of scope likeliest but not clearly: the topics are offered
        ([0.2, 0.2, 0.5, 0.1], UNSURE, None, ("rights.overtime", "rights.wage_payment")),
        # too general ("lương"): never an answer, however likely
        ([0.1, 0.3, 0.0, 0.6], UNSURE, None, ("rights.wage_payment", "rights.overtime")),
        ([0.01, 0.3, 0.0, 0.69], UNSURE, None, ("rights.wage_payment", "rights.overtime")),
    ],
)
def test_the_decision_has_three_outcomes(probabilities, outcome, topic, offered):
    decision = decide(np.array(probabilities), CLASSES, PARAMS)
    assert (decision.outcome, decision.topic, decision.suggestions) == (outcome, topic, offered)


def test_a_long_message_is_looked_at_in_its_question():
    story = (
        "Em làm ca đêm ở một khách sạn bên Lâm Viên đã hai năm nay, công việc cũng ổn. "
        "Cho em hỏi tối nay đội tuyển đá mấy giờ?"
    )
    assert question_part(story) == "Cho em hỏi tối nay đội tuyển đá mấy giờ?"
    no_mark = (
        "Tôi làm vườn hoa ở Xuân Trường, mùa này mưa nhiều lắm. Giá phân bón bây giờ là bao nhiêu"
    )
    assert question_part(no_mark) == "Giá phân bón bây giờ là bao nhiêu"
    assert question_part("công ty nợ lương thì làm sao?") is None  # short: one question
    # A bare question asks about the sentence before it: they are read together.
    story = "Em làm giúp việc ở Cam Ly, bà chủ không cho em ra khỏi nhà. Vậy em phải làm sao?"
    assert question_part(story, VOCABULARY.stop_folded) == story
    assert question_part(story) == "Vậy em phải làm sao?"  # without stopwords: not bare


@pytest.mark.parametrize(
    ("message", "topic"),
    [
        (
            "Em làm giúp việc cho một nhà ở phường Cam Ly, bà chủ hay chửi mắng và không cho "
            "em ra ngoài. Em nên làm gì?",
            "rights.domestic_work",
        ),
        (
            "Em muốn báo công đoàn chuyện xưởng không phát găng tay bảo hộ cho tụi em. "
            "Bấm vào đâu?",
            "service.report_grievance",
        ),
    ],
)
def test_a_bare_question_asks_about_the_story_before_it(message, topic):
    # "What should I do?" alone reads as small talk; it asks about the sentence before it.
    assert shared_knowledge().search(message, "vi").topic == topic


def test_a_long_message_whose_question_is_out_of_scope_is_declined():
    work_story = np.array([0.6, 0.1, 0.2, 0.1])  # the story alone: overtime, clearly
    off_topic = np.array([0.02, 0.02, 0.9, 0.06])  # its question: out of scope, clearly
    declined = decide_message(work_story, off_topic, CLASSES, PARAMS)
    assert (declined.outcome, declined.topic) == (DECLINE, None)
    # A question in scope, or only vaguely out of it, is mixed with the story as before.
    vague = np.array([0.3, 0.1, 0.5, 0.1])
    mixed = decide_message(work_story, vague, CLASSES, replace(PARAMS, whole_share=0.5))
    assert (mixed.outcome, mixed.topic) == (UNSURE, None)
    kept = decide_message(work_story, None, CLASSES, PARAMS)
    assert (kept.outcome, kept.topic) == (ANSWER, "rights.overtime")


@pytest.mark.parametrize(
    "message",
    [
        "Em làm ca đêm ở khách sạn bên Lâm Viên đã hai năm. Cho em hỏi xe khách đi Nha Trang "
        "nhà xe nào rẻ?",
        "toi lam ca dem o khach san lam vien. xe khach di nha trang nha xe nao re vay?",
        "Mình là công nhân vườn hoa ở Trại Mát, lương tháng 6 triệu. Mua xe máy trả góp ở đâu "
        "lãi thấp?",
    ],
)
def test_the_served_model_declines_an_off_topic_question_after_a_work_story(message):
    match = shared_knowledge().search(message, "vi")
    assert (match.declined, match.topic) == (True, None), match


@pytest.mark.parametrize(
    ("message", "topic"),
    [
        ("Em làm ở homestay 3 năm rồi. Em có được nghỉ phép năm không ạ?", "rights.annual_leave"),
        ("Công ty em ở Phú Hội nợ lương hai tháng rồi. Em phải làm sao?", "rights.wage_payment"),
    ],
)
def test_a_work_story_with_a_question_in_scope_is_answered(message, topic):
    assert shared_knowledge().search(message, "vi").topic == topic


def test_a_training_file_must_name_a_topic(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    (content / "training" / "vi" / "rights.typo_topic.txt").write_text("hỏi gì đó\n", "utf-8")
    with pytest.raises(ContentError, match=r"rights\.typo_topic\.txt: 'rights\.typo_topic' is not"):
        Knowledge.load(content, tmp_path / "cache")


def test_examples_come_from_the_files_the_articles_and_lessons_last():
    knowledge = shared_knowledge()
    spec = knowledge.model_spec(
        "vi", [Example("Cty bắt mặc đồng phục tự mua", "rights.wage_payment")]
    )
    labels = {e.label for e in spec.examples}
    topics = {t for group in knowledge.taxonomy for t in group.topics}
    assert labels == topics | {OUT_OF_SCOPE, UNCLEAR}
    taught = [e for e in spec.examples if e.text == "Cty bắt mặc đồng phục tự mua"]
    assert taught == [Example("Cty bắt mặc đồng phục tự mua", "rights.wage_payment", 5.0)]
    per_topic = {t: sum(e.label == t for e in spec.examples) for t in topics}
    assert min(per_topic.values()) >= 40, per_topic  # 30+ paraphrases and the article's own
    assert sum(e.label == OUT_OF_SCOPE for e in spec.examples) >= 500
    assert knowledge.model_spec("vi").fingerprint != spec.fingerprint


def test_a_model_is_trained_once_per_change_of_its_examples():
    knowledge = shared_knowledge()
    spec = knowledge.model_spec("vi")
    assert spec.path.is_file() and knowledge.matchers["vi"].fingerprint == spec.fingerprint
    stamp = spec.path.stat().st_mtime_ns
    Knowledge.load(CONTENT_DIR)
    assert spec.path.stat().st_mtime_ns == stamp  # loaded, not trained again


def test_content_check_names_a_wording_given_two_labels(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    with (content / "training" / "vi" / "rights.overtime.txt").open("a", encoding="utf-8") as f:
        f.write("Xổ số hôm nay ra số mấy\n")
    with (content / "training" / "vi" / "out_of_scope.txt").open("a", encoding="utf-8") as f:
        f.write("xo so hom nay ra so may\n")
    problems = check(content, date(2026, 12, 4)).problems
    assert problems == (
        "content/training/vi: “Xổ số hôm nay ra số mấy” is both out_of_scope and rights.overtime",
    )


def test_old_models_are_pruned_from_the_cache_but_not_the_one_in_use(tmp_path):
    now = 1_800_000_000.0
    for name, age_days in (("faq-vi-old.npz", 3), ("faq-vi-new.npz", 0.1), ("faq-vi-used.npz", 9),
                           ("faq-en-old.npz", 3), ("half.tmp", 2)):  # fmt: skip
        path = tmp_path / name
        path.write_bytes(b"x")
        os.utime(path, (now - age_days * 86400, now - age_days * 86400))
    gone = training.prune(tmp_path, "vi", keep=tmp_path / "faq-vi-used.npz", now=now)
    assert gone == 2
    assert sorted(p.stem for p in tmp_path.iterdir()) == ["faq-en-old", "faq-vi-new", "faq-vi-used"]


def test_no_training_example_repeats_a_held_out_question():
    # bench/faq_heldout.jsonl estimates accuracy on questions nobody fitted the model to;
    # a copy of one among the training examples would make that estimate a lie.
    heldout = Path(__file__).resolve().parents[2] / "bench" / "faq_heldout.jsonl"
    questions = {
        fold(json.loads(line)["q"]).strip()
        for line in heldout.read_text(encoding="utf-8").splitlines()
        if line
    }
    knowledge = shared_knowledge()
    examples = knowledge.model_spec("vi").examples
    assert len(questions) > 800 and len(examples) > 5000
    repeated = sorted(e.text for e in examples if fold(e.text).strip() in questions)
    assert not repeated, repeated
