"""``embedkit ingest`` on a folder nobody checked: links out of it, ``/dev/zero``, a FIFO
named ``x.txt``, a file over the size limit, Latin-1, Shift-JIS and UTF-16 text, and
record ids used by two files.

The command runs in a real process (``cli_worker.py`` with its deterministic dense model,
so no model load); searches run through ``python -m langchain_embedkit.cli`` with BM25.
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="links, FIFOs")]

WORKER = Path(__file__).with_name("cli_worker.py")
ROOT = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
LATIN = "Herr Müller wohnt in der Hauptstraße in Köln."
SJIS = "日本語のテキストです。東京都に住んでいます。"
UTF16 = "Notepad 保存的 UTF-16 文本：向量检索。"
SECRET = "root:x:0:0:the secret outside the folder"


def run(work: Path, *args: str, report: bool = False) -> tuple[Any, dict[str, str]]:
    """``embedkit ARGS`` in a worker process; a hang fails the test instead of the suite."""
    command = [sys.executable, str(WORKER), "-", *(["--report"] if report else []), "--", *args]
    done = subprocess.run(command, cwd=work, env=ENV, capture_output=True, text=True, timeout=240)
    chunks: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if line.startswith("REPORT "):
            chunks = json.loads(line.removeprefix("REPORT "))["chunks"]
    return done, chunks


def embedkit(work: Path, *args: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "langchain_embedkit.cli", *args],
        cwd=work,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(SECRET, "utf-8")
    (docs / "real.md").write_text("A real note about vector search.", "utf-8")
    (docs / "sub" / "alias.md").symlink_to("../real.md")  # stays inside: fine
    (docs / "passwd.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (docs / "z.txt").symlink_to("/dev/zero")
    os.mkfifo(docs / "x.txt")
    (docs / "big.txt").write_text("big " * 2000, "utf-8")  # 8 KB, over --max-file-size 4KB
    (docs / "latin.txt").write_bytes(LATIN.encode("latin-1"))
    (docs / "sjis.txt").write_bytes(SJIS.encode("shift_jis"))
    (docs / "utf16.txt").write_bytes(codecs.BOM_UTF16_LE + UTF16.encode("utf-16-le"))
    return tmp_path


def test_ingest_reads_only_regular_files_inside_the_folder(hostile: Path) -> None:
    done, chunks = run(hostile, "ingest", "docs", "--max-file-size", "4KB", report=True)
    assert done.returncode == 0, done.stderr[-3000:]
    err = done.stderr
    assert "Traceback" not in err
    assert "skipped: 'docs/passwd.txt' is a link to" in err and "outside the folder 'docs'" in err
    assert "--follow-links" in err
    assert "skipped: 'docs/z.txt' is a link to '/dev/zero'" in err
    assert "skipped: 'docs/x.txt' is a named pipe (FIFO)" in err
    assert "skipped: 'docs/big.txt' is 8 KB, over the 4 KB limit" in err
    assert "--max-file-size" in err
    assert "Ingested 4 file(s) (4 skipped)" in done.stdout
    texts = sorted(chunks.values())
    assert texts == sorted(["A real note about vector search.", LATIN, SJIS, UTF16])
    # BM25 finds the Latin-1 file by its umlaut word; the secret was never read
    found = embedkit(hostile, "search", "Müller", "--mode", "sparse", "--k", "1", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["metadata"]["source"] == "docs/latin.txt"
    nothing = embedkit(hostile, "search", "secret root", "--mode", "sparse", "--json")
    assert SECRET not in nothing.stdout


def test_follow_links_reads_links_out_of_the_folder_but_never_devices_or_fifos(
    hostile: Path,
) -> None:
    done, chunks = run(
        hostile, "ingest", "docs", "--follow-links", "--max-file-size", "4KB", report=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET in chunks.values()
    assert "skipped: 'docs/z.txt' is a character device, not a regular file" in done.stderr
    assert "skipped: 'docs/x.txt' is a named pipe (FIFO)" in done.stderr


def test_named_fifos_devices_and_big_files_are_errors_not_hangs(hostile: Path) -> None:
    cases = [
        ("docs/x.txt", "'docs/x.txt' is a named pipe (FIFO), not a regular file"),
        ("docs/z.txt", "'docs/z.txt' is a character device, not a regular file"),
        ("docs/big.txt", "'docs/big.txt' is 8 KB, over the 4 KB limit"),
    ]
    for path, message in cases:
        done = embedkit(hostile, "ingest", path, "--max-file-size", "4KB")
        assert done.returncode == 1, done.stdout
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (hostile / "embedkit.db").exists()


def test_json_files_are_ingested_and_ids_are_checked_across_json_and_jsonl(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    records = {"documents": [{"id": "j1", "text": "Müller wohnt in Köln."}, {"text": "向量检索"}]}
    (docs / "a.json").write_text(json.dumps(records, ensure_ascii=False), "utf-8")
    (docs / "b.jsonl").write_text(json.dumps({"id": "j1", "text": "other"}), "utf-8")
    done = embedkit(tmp_path, "ingest", "docs")
    assert done.returncode == 1, done.stdout
    assert "The id 'j1' is in both 'docs/a.json' and 'docs/b.jsonl'" in done.stderr
    assert not (tmp_path / "embedkit.db").exists()
    (docs / "b.jsonl").unlink()
    (docs / "c.json").write_text('[{"text": "fine"}, {"body": "no text"}]', "utf-8")
    done, stored = run(tmp_path, "ingest", "docs", report=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "docs/c.json' record [1] has no text field" in done.stderr
    assert stored["j1"] == "Müller wohnt in Köln."
    assert sorted(stored.values()) == ["Müller wohnt in Köln.", "向量检索"]


def test_the_same_record_id_in_two_files_is_an_error_naming_both(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, texts in (("a.jsonl", ["alpha one", "alpha two"]), ("b.jsonl", ["beta", "gamma"])):
        lines = [{"id": str(n), "text": text} for n, text in enumerate(texts, start=1)]
        (docs / name).write_text("\n".join(json.dumps(x) for x in lines), "utf-8")
    done = embedkit(tmp_path, "ingest", "docs")
    assert done.returncode == 1, done.stdout
    assert "The id '1' is in both 'docs/a.jsonl' and 'docs/b.jsonl'" in done.stderr
    assert not (tmp_path / "embedkit.db").exists()  # nothing was written
    # one file at a time: the second one may not overwrite what the first one stored
    first, stored = run(tmp_path, "ingest", "docs/a.jsonl", report=True)
    assert first.returncode == 0, first.stderr[-3000:]
    assert stored == {"1": "alpha one", "2": "alpha two"}
    second, stored = run(tmp_path, "ingest", "docs/b.jsonl", report=True)
    assert second.returncode == 1
    assert "The id '1' in 'docs/b.jsonl' is already stored from 'docs/a.jsonl'" in second.stderr
    assert stored == {"1": "alpha one", "2": "alpha two"}
