"""The ``embedkit`` command end to end: real processes, a Milvus Lite file, the packaged
MiniLM, BM25, and a chat server on 127.0.0.1 speaking the OpenAI chat-completions API.

Model loading dominates, so the store is ingested once per module and the few commands
that need the model share it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_embedkit.loaders import load_file, sample_corpus_path, split_documents
from tests.support.chat_server import ChatHandler
from tests.support.http import LoopbackServer, serve

pytestmark = pytest.mark.slow

ANSWER = ["AI research was founded ", "at the Dartmouth workshop in 1956 [1]."]
KEY = "sk-test-secret-0123456789"


def embedkit(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """Run ``python -m langchain_embedkit.cli ARGS`` and return the finished process."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENAI_API_KEY", "DASHSCOPE_API_KEY", "OPENAI_BASE_URL")
        and key != "EMBEDKIT_CHAT_MODEL"
    }
    environment.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "langchain_embedkit.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_clean_error(result: Any, *fragments: str, code: int | None = None) -> None:
    assert result.returncode != 0, result.stdout
    if code is not None:
        assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def holds(result: Any) -> int:
    line = next(x for x in result.stdout.splitlines() if " holds " in x)
    return int(line.split(" holds ")[1].split()[0])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    (docs / "notes").mkdir(parents=True)
    (docs / "corpus.jsonl").write_text(
        sample_corpus_path().read_text(encoding="utf-8"), encoding="utf-8"
    )
    long_note = " ".join(
        f"Sentence {i} talks about hybrid search and reranking." for i in range(60)
    )
    (docs / "notes" / "long.md").write_text(long_note, encoding="utf-8")
    (docs / "notes" / "zh.txt").write_text(
        "米尔维斯是一个开源向量数据库。它支持混合检索！", "utf-8"
    )
    (docs / "notes" / "empty.md").write_text("\n \n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def ingested(workdir: Path) -> tuple[Any, Any]:
    """``ingest docs/`` twice: the second run must find everything already stored."""
    first = embedkit("ingest", "docs", cwd=workdir)
    second = embedkit("ingest", "docs", cwd=workdir)
    return first, second


# --------------------------------------------------------------------- cheap: no model


def test_help_is_instant_and_lists_every_command(tmp_path: Path) -> None:
    code = (
        "import sys; from langchain_embedkit.cli.parser import build_parser; "
        "build_parser().format_help(); "
        "heavy = [m for m in ('torch', 'pymilvus', 'chromadb', 'transformers', 'openai') "
        "if m in sys.modules]; print(heavy)"
    )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.stdout.strip() == "[]", probe.stderr
    result = embedkit("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("ingest", "search", "ask", "info", "demo", "eval"):
        assert command in result.stdout


def test_bad_inputs_give_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(32))
    (tmp_path / "table.csv").write_text("a,b\n", encoding="utf-8")
    cases = [
        (("ingest", "missing-folder"), ["Path not found: 'missing-folder'"]),
        (("ingest", "empty.txt"), ["'empty.txt' is empty"]),
        (("ingest", "image.md"), ["binary file"]),
        (("ingest", "table.csv"), ["Unsupported file type '.csv'", ".jsonl"]),
        (("search", "q", "--filter", "{lang: zh}"), ["--filter is not valid JSON", '{"lang"']),
        (("search", "q", "--filter", "[1]"), ["--filter must be a JSON object"]),
        (("search", "q", "--mode", "fuzzy"), ["invalid choice: 'fuzzy'", "'hybrid'"]),
        (("search", "q", "--k", "0"), ["--k must be a positive"]),
    ]
    # One interpreter runs every case through main(), the console script's entry point,
    # instead of paying eight start-ups.
    driver = (
        "import contextlib, io, json, sys\n"
        "from langchain_embedkit.cli import main\n"
        "out = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        try:\n"
        "            code = main(argv)\n"
        "        except SystemExit as exc:\n"
        "            code = exc.code\n"
        "    out.append([code, err.getvalue()])\n"
        "print(json.dumps(out))\n"
    )
    argvs = [list(args) for args, _ in cases]
    run = subprocess.run(
        [sys.executable, "-c", driver, json.dumps(argvs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    for (args, fragments), (code, stderr) in zip(cases, json.loads(run.stdout), strict=True):
        assert code not in (0, None), args
        assert "Traceback" not in stderr, stderr
        assert stderr.strip().splitlines()[-1].startswith("embedkit "), stderr
        for fragment in fragments:
            assert fragment in stderr, (args, stderr)
    assert not (tmp_path / "embedkit.db").exists()  # failed commands created nothing
    # and through the console-script path once, for the exit status of the process
    assert_clean_error(embedkit("ingest", "missing-folder", cwd=tmp_path), "Path not found")


def test_ask_without_an_endpoint_says_what_to_set(tmp_path: Path) -> None:
    result = embedkit("ask", "Who started AI research?", cwd=tmp_path)
    assert_clean_error(
        result, "OPENAI_API_KEY", "DASHSCOPE_API_KEY", "--base-url", "--model", code=2
    )
    result = embedkit("ask", "q", "--base-url", "http://127.0.0.1:9/v1", cwd=tmp_path)
    assert_clean_error(result, "No chat model named", "EMBEDKIT_CHAT_MODEL", code=2)


def test_eval_is_registered_and_runs_on_a_tiny_beir_folder(tmp_path: Path) -> None:
    data = tmp_path / "beir"
    (data / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "", "text": "BM25 ranks documents by term frequency."},
        {"_id": "d2", "title": "", "text": "向量数据库存储嵌入向量。"},
        {"_id": "d3", "title": "", "text": "The Dartmouth workshop started AI research."},
    ]
    queries = [{"_id": "q1", "text": "term frequency ranking"}, {"_id": "q2", "text": "向量数据库"}]
    (data / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus), "utf-8")
    (data / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries), "utf-8")
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    result = embedkit(
        "eval", str(data), "--modes", "sparse", "--k", "2", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "sparse" in result.stdout and "1.000" in result.stdout


def test_demo_runs_end_to_end_without_a_key_or_a_server(tmp_path: Path) -> None:
    result = embedkit("demo", "--k", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "dimension 384" in out
    assert "43 passages (25 en, 18 zh)" in out
    blocks = out.split("Query: ")[1:]
    assert len(blocks) == 4
    assert blocks[0].startswith("Who started AI research?") and "ai-en-01" in blocks[0]
    assert blocks[3].startswith("什么是检索增强生成？") and "rag-zh-01" in blocks[3]
    assert "Time: model load" in out and "query median" in out
    assert list(tmp_path.iterdir()) == []  # everything lived in a temporary folder


# ------------------------------------------------------------ the store, ingested once


def test_ingest_twice_gives_the_same_count(ingested: tuple[Any, Any]) -> None:
    first, second = ingested
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in first.stderr
    assert "skipped: " in first.stderr and "empty.md' is empty" in first.stderr
    assert "3 file(s) (1 skipped)" in first.stdout
    count = holds(first)
    # 43 one-chunk passages, the long note in several chunks, the Chinese note in one
    assert count > 45
    assert f"{count} chunks, {count} new, 0 updated, 0 unchanged" in first.stdout
    assert holds(second) == count
    assert f"{count} chunks, 0 new, 0 updated, {count} unchanged, 0 removed" in second.stdout
    assert "model load" not in second.stdout  # nothing to embed: the model was never loaded


def test_search_hybrid_with_a_filter_and_a_reranker(
    workdir: Path, ingested: Any, tmp_path: Path
) -> None:
    from tests.integration_tests.rerankers.conftest import build_cross_encoder

    reranker = build_cross_encoder(tmp_path / "tiny-cross-encoder", num_labels=1, seed=0)
    result = embedkit(
        "search",
        "向量数据库如何检索？",
        "--filter",
        '{"lang": "zh"}',
        "--k",
        "3",
        "--rerank",
        str(reranker),
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    header, rule, *rows, footer = result.stdout.strip().splitlines()
    assert header.split() == ["rank", "score", "id", "source", "text"]
    assert set(rule) == {"-", " "}
    assert [row.split()[0] for row in rows] == ["1", "2", "3"]
    assert all("-zh-" in row.split()[2] for row in rows)  # the sample corpus' Chinese ids
    scores = [float(row.split()[1]) for row in rows]
    assert scores == sorted(scores, reverse=True) and all(0 <= x <= 1 for x in scores)
    assert footer.startswith("3 result(s), hybrid + rerank ")


def test_search_sparse_as_json(workdir: Path, ingested: Any) -> None:
    result = embedkit(
        "search", "米尔维斯 混合检索", "--mode", "sparse", "--k", "2", "--json", cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows] == [1, 2]
    assert rows[0]["metadata"]["source"] == "docs/notes/zh.txt"
    assert rows[0]["text"] == "米尔维斯是一个开源向量数据库。它支持混合检索！"
    assert 0 < rows[1]["score"] <= rows[0]["score"] <= 1


def test_info_reports_the_store(workdir: Path, ingested: Any) -> None:
    result = embedkit("info", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert f"chunks:      {holds(ingested[0])}" in result.stdout
    assert "files:       3" in result.stdout
    assert "default (384 dims)" in result.stdout
    assert "BM25," in result.stdout and "embedkit.db" in result.stdout


@pytest.fixture
def chat_server() -> Iterator[LoopbackServer]:
    with serve(ChatHandler) as server:
        server.state["answer"] = ANSWER
        yield server


def test_ask_with_a_loopback_chat_server(
    workdir: Path, ingested: Any, chat_server: LoopbackServer
) -> None:
    env = {"OPENAI_BASE_URL": f"{chat_server.base_url}/v1", "OPENAI_API_KEY": KEY}
    result = embedkit(
        "ask", "Who started AI research?", "--model", "tiny-chat", "--k", "3", cwd=workdir, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "".join(ANSWER) in result.stdout
    assert "Sources:" in result.stdout and "[1] ai-en-01" in result.stdout
    assert KEY not in result.stdout + result.stderr
    [request] = chat_server.state["requests"]
    assert request["body"]["model"] == "tiny-chat"
    assert request["auth"] == f"Bearer {KEY}"
    prompt = "\n".join(str(m["content"]) for m in request["body"]["messages"])
    assert "Who started AI research?" in prompt and "Dartmouth" in prompt
    # A server that is down: a one-line error naming the URL, no traceback.
    down = embedkit(
        "ask",
        "Who?",
        "--model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--mode",
        "sparse",
        cwd=workdir,
    )
    assert_clean_error(down, "Cannot reach the chat endpoint http://127.0.0.1:9/v1")


def test_edited_and_deleted_files_replace_their_chunks(workdir: Path, ingested: Any) -> None:
    before = holds(ingested[0])
    note = workdir / "docs" / "notes" / "long.md"
    old = split_documents(load_file(note))
    note.write_text("A short note about hybrid search now.", encoding="utf-8")
    result = embedkit("ingest", "docs/notes/long.md", cwd=workdir)
    assert result.returncode == 0, result.stderr
    # The note shrank to one chunk: a new id (chunk ids are numbered only when a file has
    # several), and every old chunk is gone instead of lingering beside the new one.
    assert len(old) > 2
    assert f"1 chunks, 1 new, 0 updated, 0 unchanged, {len(old)} removed" in result.stdout
    assert holds(result) == before - len(old) + 1
    # A file deleted from an ingested folder loses its chunks on the next run.
    (workdir / "docs" / "notes" / "zh.txt").unlink()
    again = embedkit("ingest", "docs", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "0 new, 0 updated" in again.stdout and ", 1 removed." in again.stdout
    assert holds(again) == holds(result) - 1


# ------------------------------------------------------------- in-process, no model


@pytest.mark.parametrize(
    ("env", "flags", "expected"),
    [
        ({"OPENAI_API_KEY": KEY}, {}, ("https://api.openai.com/v1", "gpt-4o-mini", KEY)),
        (
            {"DASHSCOPE_API_KEY": "ds-key"},
            {},
            ("https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus", "ds-key"),
        ),
        (
            {"OPENAI_BASE_URL": "http://localhost:11434/v1", "EMBEDKIT_CHAT_MODEL": "qwen2.5"},
            {},
            ("http://localhost:11434/v1", "qwen2.5", "not-needed"),
        ),
        (
            {"OPENAI_API_KEY": KEY, "EMBEDKIT_CHAT_MODEL": "env-model"},
            {"base_url": "http://127.0.0.1:8000/v1", "model": "flag-model"},
            ("http://127.0.0.1:8000/v1", "flag-model", KEY),
        ),
        # DashScope's key goes to DashScope only, never to a self-hosted server
        (
            {"DASHSCOPE_API_KEY": "ds-key"},
            {"base_url": "http://127.0.0.1:8000/v1", "model": "m"},
            ("http://127.0.0.1:8000/v1", "m", "not-needed"),
        ),
        (
            {"DASHSCOPE_API_KEY": "ds-key", "DASHSCOPE_BASE_URL": "https://dashscope-intl.x/v1"},
            {},
            ("https://dashscope-intl.x/v1", "qwen-plus", "ds-key"),
        ),
    ],
)
def test_chat_endpoint_resolution(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    flags: dict[str, str],
    expected: tuple[str | None, str, str],
) -> None:
    import argparse

    from langchain_embedkit.cli.chat import _chat_settings

    for name in CHAT_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = argparse.Namespace(base_url=flags.get("base_url"), model=flags.get("model"))
    chat = _chat_settings(args)
    assert (chat["base_url"], chat["model"], chat["api_key"]) == expected


CHAT_ENV = (
    "OPENAI_API_KEY",
    "DASHSCOPE_API_KEY",
    "OPENAI_BASE_URL",
    "DASHSCOPE_BASE_URL",
    "EMBEDKIT_CHAT_MODEL",
)


@pytest.mark.parametrize(
    ("env", "flags", "match"),
    [
        ({}, {}, "No chat endpoint configured"),
        ({"OPENAI_BASE_URL": "http://localhost:11434/v1"}, {}, "No chat model named for"),
        # the OpenAI key is not sent to DashScope's server
        (
            {"OPENAI_API_KEY": KEY},
            {"base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1"},
            r"No API key for https://dashscope\.aliyuncs\.com/compatible-mode/v1: set "
            "DASHSCOPE_API_KEY",
        ),
    ],
)
def test_chat_endpoint_missing_pieces_exit_2(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], flags: dict[str, str], match: str
) -> None:
    import argparse

    from langchain_embedkit.cli.chat import _chat_settings
    from langchain_embedkit.cli.errors import CLIError

    for name in CHAT_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = argparse.Namespace(base_url=flags.get("base_url"), model=flags.get("model"))
    with pytest.raises(CLIError, match=match) as caught:
        _chat_settings(args)
    assert caught.value.exit_code == 2


def test_table_aligns_chinese_by_display_width() -> None:
    from langchain_embedkit.cli.output import format_table

    table = format_table(["id", "text"], [["zh", "向量检索"], ["en", "vector search"]])
    lines = table.splitlines()
    assert lines[2] == "zh  向量检索"
    assert lines[3] == "en  vector search"
    assert lines[1] == "--  -------------"
