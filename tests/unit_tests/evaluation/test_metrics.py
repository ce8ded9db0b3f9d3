"""Metrics against hand-computed values and against pytrec_eval (trec_eval 9)."""

from __future__ import annotations

import math
import random

import pytest

from langchain_embedkit.evaluation.metrics import (
    average_precision_at_k,
    evaluate_run,
    hit_rate_at_k,
    metric_key,
    ndcg_at_k,
    precision_at_k,
    rank,
    recall_at_k,
    reciprocal_rank_at_k,
)

# Graded judgements: a is highly relevant, b and d relevant, c judged not relevant.
QRELS = {"a": 2, "b": 1, "c": 0, "d": 1}
RANKED = ["b", "a", "e", "c", "d"]


def test_ndcg_uses_graded_gain_and_log2_rank_plus_one_discount() -> None:
    # DCG@3 = 1/log2(2) + 2/log2(3) + 0 ; IDCG@3 = 2/log2(2) + 1/log2(3) + 1/log2(4)
    dcg = 1.0 + 2.0 / math.log2(3)
    idcg = 2.0 + 1.0 / math.log2(3) + 0.5
    assert ndcg_at_k(RANKED, QRELS, 3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(RANKED, QRELS, 1) == pytest.approx(0.5)  # gain 1 of an ideal 2
    # At 5, d (gain 1) arrives at rank 5; the ideal list has only 3 gains.
    dcg5 = dcg + 1.0 / math.log2(6)
    idcg5 = idcg
    assert ndcg_at_k(RANKED, QRELS, 5) == pytest.approx(dcg5 / idcg5)
    assert ndcg_at_k(["a", "b", "d"], QRELS, 3) == pytest.approx(1.0)


def test_ndcg_ideal_comes_from_qrels_not_from_the_run() -> None:
    # The only retrieved relevant doc is perfect for the run, but the qrels know two more.
    assert ndcg_at_k(["b"], QRELS, 10) == pytest.approx(1.0 / (2.0 + 1 / math.log2(3) + 0.5))


def test_recall_precision_hit_rate() -> None:
    assert recall_at_k(RANKED, QRELS, 2) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, QRELS, 5) == pytest.approx(1.0)
    assert precision_at_k(RANKED, QRELS, 5) == pytest.approx(3 / 5)
    # Missing ranks count as misses: 1 relevant in a 1-long list at P@10.
    assert precision_at_k(["a"], QRELS, 10) == pytest.approx(0.1)
    assert hit_rate_at_k(["x", "y", "a"], QRELS, 2) == 0.0
    assert hit_rate_at_k(["x", "y", "a"], QRELS, 3) == 1.0


def test_mrr_is_first_relevant_within_k() -> None:
    assert reciprocal_rank_at_k(["x", "c", "d"], QRELS, 3) == pytest.approx(1 / 3)
    assert reciprocal_rank_at_k(["x", "c", "d"], QRELS, 2) == 0.0  # c has grade 0
    assert reciprocal_rank_at_k(RANKED, QRELS, 10) == 1.0


def test_map_divides_by_all_relevant_documents_not_min_with_k() -> None:
    # Relevant at ranks 1, 2 and 5: AP@5 = (1/1 + 2/2 + 3/5) / 3.
    assert average_precision_at_k(RANKED, QRELS, 5) == pytest.approx((1 + 1 + 0.6) / 3)
    # At k=2 both hits are perfect, but the third relevant doc is still in the divisor.
    assert average_precision_at_k(RANKED, QRELS, 2) == pytest.approx(2 / 3)
    many = {f"r{i:02d}": 1 for i in range(12)}
    assert average_precision_at_k(sorted(many), many, 10) == pytest.approx(10 / 12)


def test_ties_are_broken_by_doc_id_descending_like_trec_eval() -> None:
    assert rank({"a": 1.0, "b": 1.0, "c": 0.5}) == ["b", "a", "c"]
    # String order, as trec_eval's strcmp: "9" > "10".
    assert rank({"10": 0.3, "9": 0.3}) == ["9", "10"]
    means, _ = evaluate_run({"q": {"a": 1}}, {"q": {"a": 1.0, "b": 1.0}}, k_values=[1, 2])
    assert means["MRR@1"] == 0.0
    assert means["MRR@2"] == 0.5


def test_a_list_run_keeps_its_order_and_drops_repeats() -> None:
    assert rank(["z", "a", "z", "m"]) == ["z", "a", "m"]
    means, _ = evaluate_run({"q": {"a": 1}}, {"q": ["z", "a", "z"]}, k_values=[2])
    assert means["MRR@2"] == 0.5


def test_queries_without_relevant_documents_score_zero_and_count_in_the_mean() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"x": 0}}
    run = {"q1": ["a"], "q2": ["x", "a"]}
    means, per_query = evaluate_run(qrels, run, k_values=[10])
    assert per_query["q2"] == {key: 0.0 for key in per_query["q2"]}
    assert means["nDCG@10"] == pytest.approx(0.5)
    assert means["Recall@10"] == pytest.approx(0.5)


def test_missing_queries_count_as_empty_and_unjudged_queries_are_ignored() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"a": 0.9}, "q9": {"b": 1.0}}
    means, per_query = evaluate_run(qrels, run, k_values=[10])
    assert set(per_query) == {"q1", "q2"}
    assert means["HitRate@10"] == pytest.approx(0.5)


def test_bad_arguments_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        ndcg_at_k(["a"], {"a": 1}, 0)
    with pytest.raises(ValueError, match="supported: ndcg, recall"):
        evaluate_run({"q": {"a": 1}}, {}, metrics=["ndgc"])
    with pytest.raises(ValueError, match="qrels are empty"):
        evaluate_run({}, {})
    with pytest.raises(TypeError, match="list of doc ids"):
        rank("abc")
    assert metric_key("hit_rate", 5) == "HitRate@5"


def test_matches_pytrec_eval_on_random_graded_runs() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval", reason="reference implementation")
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(40)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(60):
        qid = f"q{q}"
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 8))}
        # Scores on a coarse grid so that many ties occur.
        run[qid] = {d: rng.randint(0, 6) / 2 for d in rng.sample(docs, rng.randint(0, 30))}
    run["q0"] = {}
    ks = [1, 3, 5, 10, 20]
    _, per_query = evaluate_run(qrels, run, ks)
    cut = ",".join(map(str, ks))
    evaluator = pytrec_eval.RelevanceEvaluator(
        qrels,
        {
            f"ndcg_cut.{cut}",
            f"map_cut.{cut}",
            f"recall.{cut}",
            f"P.{cut}",
            f"success.{cut}",
            "recip_rank",
        },
    )
    reference = evaluator.evaluate(run)
    names = {
        "nDCG": "ndcg_cut",
        "MAP": "map_cut",
        "Recall": "recall",
        "P": "P",
        "HitRate": "success",
    }
    for qid, values in reference.items():
        for ours, theirs in names.items():
            for k in ks:
                assert per_query[qid][f"{ours}@{k}"] == pytest.approx(
                    values[f"{theirs}_{k}"], abs=1e-9
                ), (qid, ours, k)
        # trec_eval's recip_rank has no cut-off; MRR@20 equals it when the hit is in the top 20.
        rr = values["recip_rank"]
        assert per_query[qid]["MRR@20"] == pytest.approx(rr if rr >= 1 / 20 else 0.0)
    assert len(reference) > 50
    assert per_query["q0"]["nDCG@10"] == 0.0
