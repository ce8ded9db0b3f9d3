"""``embedkit ingest`` interrupted at every stage (SIGINT and SIGKILL in a real process),
then run again: nothing is lost at the interruption, and the re-run converges to exactly
the chunks of the files present, with ``embedkit info`` right.

The worker (``cli_worker.py``) runs the real command on a Milvus Lite file and stops at a
named point (a file read, a manifest save, inside an embedding call, after a batch lands,
around the deletion of old chunks) so that each signal lands where it is meant to.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from langchain_embedkit.loaders import discover_files, load_file, split_documents
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.vectorstores.sparse_log import StateFiles

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX signals")]

WORKER = Path(__file__).with_name("cli_worker.py")
ROOT = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
}
INGEST = ("--", "ingest", "docs", "--no-progress")


def write_v1(docs: Path) -> None:
    """600 records (three batches of 256 chunks with the rest), a long note, two short ones."""
    docs.mkdir(parents=True, exist_ok=True)
    records = [{"id": f"r{i}", "text": f"Record {i} is about topic {i % 7}."} for i in range(600)]
    (docs / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records), "utf-8")
    long = " ".join(f"Sentence {i} explains hybrid search and reranking." for i in range(120))
    (docs / "long.md").write_text(long, "utf-8")
    (docs / "keep.txt").write_text("This note stays as it is.", "utf-8")
    (docs / "gone.txt").write_text("This note will be deleted.", "utf-8")


def write_v2(docs: Path) -> None:
    """Edit ten records, drop ten, add fifty; shrink the long note; delete one, add one."""
    records = [
        {"id": f"r{i}", "text": f"Record {i} was edited: now about topic {i % 5}."}
        if i < 10
        else {"id": f"r{i}", "text": f"Record {i} is about topic {i % 7}."}
        for i in [*range(590), *range(600, 650)]
    ]
    (docs / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records), "utf-8")
    (docs / "long.md").write_text("A short note about hybrid search now.", "utf-8")
    (docs / "gone.txt").unlink()
    (docs / "new.txt").write_text("A note added later.", "utf-8")


def expected(docs: Path) -> dict[str, dict[str, str]]:
    """``{file name: {chunk id: text}}`` as a fresh ingest of ``docs`` would store them."""
    return {
        found.path.name: {str(c.id): c.page_content for c in split_documents(load_file(found.path))}
        for found in discover_files([docs])
    }


def flat(per_file: dict[str, dict[str, str]]) -> dict[str, str]:
    return {key: text for chunks in per_file.values() for key, text in chunks.items()}


def worker(work: Path, point: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WORKER), point, *args],
        cwd=work,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


def interrupt(work: Path, point: str, sig: signal.Signals) -> None:
    """Run ``ingest docs``, signal it once it stops at ``point``, and check how it ended."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), point, *INGEST],
        cwd=work,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = []
    for line in proc.stdout:
        output.append(line)
        if line.startswith(f"PAUSED {point}"):
            break
    else:
        proc.wait(timeout=60)
        pytest.fail(f"the run never reached {point}:\n{''.join(output)[-3000:]}")
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, rest
        assert "embedkit: interrupted" in rest and "Traceback" not in rest, rest
    else:
        assert proc.returncode == -signal.SIGKILL


def rerun(work: Path) -> tuple[dict[str, str], dict[str, str], str]:
    """Run ``ingest docs`` to the end: the chunks stored before it, after it, and its output."""
    done = worker(work, "-", "--report", *INGEST)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports = {
        report["label"]: report["chunks"]
        for report in (
            json.loads(line.removeprefix("REPORT "))
            for line in done.stdout.splitlines()
            if line.startswith("REPORT ")
        )
    }
    return reports["before"], reports["after"], done.stdout


def assert_converged(after: dict[str, str], out: str, files: dict[str, dict[str, str]]) -> None:
    assert after == flat(files)  # exactly the chunks of the files present, each as it is now
    assert f"chunks:      {len(after)}\n" in out
    assert f"files:       {len(files)}\n" in out


def assert_nothing_lost(before: dict[str, str], old: dict[str, dict[str, str]], new: Any) -> None:
    """Every file still present has all of its old chunks or all of its new ones stored,
    and every stored chunk is one of the two versions."""
    for name, chunks in new.items():
        if name in old:
            stored_old = set(old[name]) <= set(before)
            stored_new = set(chunks) <= set(before)
            assert stored_old or stored_new, (name, sorted(set(old[name]) - set(before))[:5])
    old_flat, new_flat = flat(old), flat(new)
    for key, text in before.items():
        assert text in (old_flat.get(key), new_flat.get(key)), key


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """The v1 corpus ingested once, kept as a template; scenarios restore it to the same
    path (the manifest and the chunk ids are keyed by absolute paths)."""
    base = tmp_path_factory.mktemp("interrupt")
    work, template = base / "work", base / "template"
    write_v1(work / "docs")
    done = worker(work, "-", *INGEST)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    v1 = expected(work / "docs")
    assert f"holds {len(flat(v1))} chunks" in done.stdout
    shutil.copytree(work, template, symlinks=True)
    return work, template, v1


def _label(value: object) -> str:
    return value.name if isinstance(value, signal.Signals) else str(value)


UPDATE_POINTS = [
    ("read:2", signal.SIGKILL),
    ("manifest:1", signal.SIGKILL),
    ("embed:1", signal.SIGKILL),
    ("batch:1", signal.SIGKILL),
    ("delete:1", signal.SIGKILL),
    ("deleted:1", signal.SIGKILL),
    ("manifest:1", signal.SIGINT),
    ("batch:1", signal.SIGINT),
    ("deleted:1", signal.SIGINT),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("point", "sig"), UPDATE_POINTS, ids=_label)
def test_an_interrupted_update_loses_nothing_and_a_rerun_converges(
    baseline: tuple[Path, Path, dict[str, Any]], point: str, sig: signal.Signals
) -> None:
    work, template, v1 = baseline
    shutil.rmtree(work)
    shutil.copytree(template, work, symlinks=True)
    write_v2(work / "docs")
    v2 = expected(work / "docs")
    interrupt(work, point, sig)
    before, after, out = rerun(work)
    assert_nothing_lost(before, v1, v2)
    assert len(before) >= len(set(flat(v1)) & set(flat(v2)))
    assert_converged(after, out, v2)  # gone.txt's chunk and the ten dropped records too


FIRST_POINTS = [
    ("manifest:1", signal.SIGKILL),
    ("batch:1", signal.SIGKILL),
    ("embed:2", signal.SIGINT),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("point", "sig"), FIRST_POINTS, ids=_label)
def test_an_interrupted_first_ingest_then_deleted_files_leave_no_chunks(
    tmp_path: Path, point: str, sig: signal.Signals
) -> None:
    docs = tmp_path / "docs"
    write_v1(docs)
    interrupt(tmp_path, point, sig)
    # The records' first batch may have landed before the signal; the file is deleted now.
    landed = flat(expected(docs))
    (docs / "records.jsonl").unlink()
    (docs / "gone.txt").unlink()
    now = expected(docs)
    before, after, out = rerun(tmp_path)
    assert set(before) <= set(landed)
    assert_converged(after, out, now)
    assert not any(key.startswith("r") for key in after)


def test_an_update_leaves_bm25_equal_to_a_fresh_fit_on_what_is_stored(
    baseline: tuple[Path, Path, dict[str, Any]],
) -> None:
    """Edited chunks are upserts: the saved statistics (base file and change log) count
    each stored text once, as a fresh fit on them would."""
    work, template, _ = baseline
    shutil.rmtree(work)
    shutil.copytree(template, work, symlinks=True)
    write_v2(work / "docs")
    done = worker(work, "-", *INGEST)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "refitting" not in done.stderr.lower(), done.stderr[-3000:]
    state = work / "embedkit.db.embedkit.sparse.json"
    saved = BM25SparseEmbeddings.load(state)
    StateFiles(state).load(saved)
    fresh = BM25SparseEmbeddings.load(state).fit(list(flat(expected(work / "docs")).values()))
    assert saved.statistics() == fresh.statistics()
