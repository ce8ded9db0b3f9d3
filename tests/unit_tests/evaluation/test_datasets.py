"""BEIR folders, question files and deterministic sampling."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from langchain_embedkit.evaluation.datasets import (
    RetrievalDataset,
    load_beir,
    load_dataset,
    load_qa,
)

from .conftest import write_beir


def test_beir_folder_joins_title_and_text_and_keeps_judged_queries(tmp_path: Path) -> None:
    folder = write_beir(
        tmp_path / "mini",
        {"d1": ("A title", "Body one."), "d2": ("", "  Body two. "), "d3": ("Only title", "")},
        {"q1": "first", "q2": "second", "q3": "never judged"},
        [("q1", "d1", 1), ("q1", "d2", 0), ("q2", "d3", 2)],
    )
    ds = load_beir(folder)
    assert ds.corpus == {"d1": "A title Body one.", "d2": "Body two.", "d3": "Only title"}
    assert ds.queries == {"q1": "first", "q2": "second"}  # q3 has no qrels, as in BEIR
    assert ds.qrels == {"q1": {"d1": 1, "d2": 0}, "q2": {"d3": 2}}
    assert ds.name == "mini"
    doc = ds.documents()[0]
    assert doc.id == "d1"
    assert doc.metadata == {"doc_id": "d1", "title": "A title"}


def test_beir_errors_and_warnings(tmp_path: Path) -> None:
    folder = write_beir(
        tmp_path / "b",
        {"d1": ("", "x")},
        {"q1": "x"},
        [("q1", "d1", 1), ("q1", "gone", 1), ("q9", "d1", 1)],
    )
    with pytest.warns(UserWarning) as caught:
        ds = load_beir(folder)
    text = " ".join(str(w.message) for w in caught)
    assert "missing from the corpus" in text and "'gone'" in text
    assert "does not contain" in text and "q9" in text
    assert list(ds.queries) == ["q1"]
    with pytest.raises(FileNotFoundError, match=r"available splits: \['test'\]"):
        load_beir(folder, split="dev")
    with pytest.raises(FileNotFoundError, match="not a BEIR data set folder"):
        load_beir(tmp_path)
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\nnot json\n')
    with pytest.raises(ValueError, match=r"corpus.jsonl:2 is not valid JSON"):
        load_beir(folder)


def test_scifact_loads_as_beir_does(scifact_dir: Path) -> None:
    ds = load_beir(scifact_dir)
    assert len(ds.corpus) == 5183
    assert len(ds) == 300
    assert sum(len(r) for r in ds.qrels.values()) == 339
    with gzip.open(scifact_dir / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        first = json.loads(f.readline())
    assert ds.corpus[first["_id"]] == (first["title"] + " " + first["text"]).strip()


def _sha256_table(source_md: Path) -> dict[str, str]:
    """``| file | lines | bytes | sha256 |`` rows of a SOURCE.md."""
    table = {}
    for line in source_md.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and len(cells[3]) == 64:
            table[cells[0]] = cells[3]
    return table


def test_shipped_scifact_matches_the_checksums_of_its_source(scifact_dir: Path) -> None:
    expected = _sha256_table(scifact_dir / "SOURCE.md")
    assert set(expected) == {"corpus.jsonl", "queries.jsonl", "qrels/test.tsv"}
    for name, digest in expected.items():
        plain, packed = scifact_dir / name, scifact_dir / f"{name}.gz"
        data = gzip.decompress(packed.read_bytes()) if packed.exists() else plain.read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_gzipped_folder_loads_the_same_records_as_plain_files(
    scifact_dir: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    (plain / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        packed = scifact_dir / f"{name}.gz"
        source = packed if packed.exists() else scifact_dir / name
        data = source.read_bytes()
        (plain / name).write_bytes(gzip.decompress(data) if packed.exists() else data)
    # the qrels gzipped as well, so that every reader meets a .gz file
    packed_qrels = tmp_path / "packed" / "qrels"
    shutil.copytree(scifact_dir, packed_qrels.parent)
    (packed_qrels / "test.tsv.gz").write_bytes(
        gzip.compress((plain / "qrels" / "test.tsv").read_bytes())
    )
    (packed_qrels / "test.tsv").unlink()
    want = load_beir(plain)
    for folder in (scifact_dir, packed_qrels.parent):
        got = load_beir(folder)
        assert list(got.corpus.items()) == list(want.corpus.items())
        assert list(got.queries.items()) == list(want.queries.items())
        assert got.qrels == want.qrels and got.titles == want.titles
    with pytest.raises(FileNotFoundError, match=r"available splits: \['test'\]"):
        load_beir(packed_qrels.parent, split="dev")


def test_question_csv_with_ids_and_a_corpus_file(tmp_path: Path) -> None:
    corpus = tmp_path / "passages.csv"
    corpus.write_text(
        "id,title,text\np1,,Milvus stores vectors\np2,Chroma,runs locally\n", encoding="utf-8"
    )
    questions = tmp_path / "qa.csv"
    # Excel writes a byte-order mark; ids are separated by "|".
    questions.write_text(
        "\ufeffQuestion,relevant_ids\nWhere are vectors stored?,p1\nWhat runs locally?,p2|p1\n",
        encoding="utf-8",
    )
    ds = load_qa(questions, corpus=corpus)
    assert ds.corpus == {"p1": "Milvus stores vectors", "p2": "Chroma runs locally"}
    assert ds.queries == {"q1": "Where are vectors stored?", "q2": "What runs locally?"}
    assert ds.qrels == {"q1": {"p1": 1}, "q2": {"p2": 1, "p1": 1}}
    with pytest.raises(ValueError, match="no corpus file was given"):
        load_qa(questions)
    bad = tmp_path / "bad.csv"
    bad.write_text("question,relevant_ids\nq?,p7\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\['p7'\] are not in the corpus"):
        load_qa(bad, corpus=corpus)


def test_question_jsonl_with_passage_texts_builds_the_corpus(tmp_path: Path) -> None:
    rows = [
        {"question": "RAG是什么?", "relevant_texts": ["RAG是一种检索增强生成技术"]},
        {
            "query": "向量数据库存什么?",
            "contexts": ["向量数据库存储文档的嵌入表示", "RAG是一种检索增强生成技术"],
        },
        {"question": "没有答案的问题", "relevant_texts": []},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    with pytest.warns(UserWarning, match="1 questions list no relevant passage"):
        ds = load_qa(path)
    assert len(ds) == 2
    assert sorted(ds.corpus.values()) == [
        "RAG是一种检索增强生成技术",
        "向量数据库存储文档的嵌入表示",
    ]
    rag_id = next(d for d, t in ds.corpus.items() if t.startswith("RAG"))
    assert ds.qrels["q1"] == {rag_id: 1}
    assert rag_id in ds.qrels["q2"]  # the same passage text is one document


def test_csv_passage_cell_keeps_separators_as_text(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text(
        'question,relevant_text\nwho?,"Turing; a mathematician | and more"\n', encoding="utf-8"
    )
    ds = load_qa(path)
    assert list(ds.corpus.values()) == ["Turing; a mathematician | and more"]


def test_question_file_without_question_column_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text('{"q": "x", "relevant_texts": ["y"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="name the column 'question'"):
        load_qa(path)


def test_load_dataset_dispatches_and_reports_missing_paths(tiny_beir: Path, tmp_path: Path) -> None:
    assert load_dataset(tiny_beir).name == "tiny"
    with pytest.raises(FileNotFoundError, match="Data set not found"):
        load_dataset(tmp_path / "nope")


def test_sample_is_deterministic_and_keeps_the_corpus(tiny_dataset: RetrievalDataset) -> None:
    a = tiny_dataset.sample(2, seed=3)
    b = tiny_dataset.sample(2, seed=3)
    assert a.queries == b.queries and len(a) == 2
    assert a.corpus == tiny_dataset.corpus
    assert set(a.qrels) == set(a.queries)
    seeds = {tuple(tiny_dataset.sample(1, seed=s).queries) for s in range(10)}
    assert len(seeds) > 1
    assert tiny_dataset.sample(10).queries == tiny_dataset.queries
    with pytest.raises(ValueError, match="limit must be >= 1"):
        tiny_dataset.sample(0)


def test_sample_corpus_subset_keeps_judged_documents(tiny_dataset: RetrievalDataset) -> None:
    small = tiny_dataset.sample(1, corpus_size=3, seed=0)
    judged = {d for r in small.qrels.values() for d in r}
    assert judged <= set(small.corpus)
    assert len(small.corpus) == max(3, len(judged))
