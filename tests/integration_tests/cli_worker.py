"""Run ``embedkit`` in this process and stop at a chosen point so a test can kill it there.

    python cli_worker.py STAGE:N [--report] -- EMBEDKIT ARGS...

STAGE is one of ``read`` (the N-th file read), ``manifest`` (right after the N-th manifest
save), ``embed`` (inside the N-th embedding call: BM25 has learnt the batch, nothing of it
is written), ``batch`` (the N-th batch has landed), ``delete`` (just before old chunks are
deleted), ``deleted`` (just after); ``-`` never stops. At the point the worker prints
``PAUSED STAGE:N`` and sleeps until a signal arrives. The dense model is a deterministic
fake so that a run costs a process start, not a model load; everything else (the command,
Milvus Lite, BM25, the manifest) is the real thing.

``--report`` prints the stored chunks before and after the command as ``REPORT {json}``
lines, then runs ``embedkit info``.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_embedkit import loaders
from langchain_embedkit.cli import main
from langchain_embedkit.cli.parser import build_parser
from langchain_embedkit.cli.session import Session
from langchain_embedkit.vectorstores import EmbedKitVectorStore


def pause_at(stage: str, count: int) -> Callable[[str], None]:
    seen: dict[str, int] = {}

    def reached(name: str) -> None:
        seen[name] = seen.get(name, 0) + 1
        if name == stage and seen[name] == count:
            print(f"PAUSED {stage}:{count}", flush=True)
            time.sleep(600)

    return reached


def wrap(owner: Any, name: str, before: str | None, after: str | None, hook: Any) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            hook(before)
        result = original(*args, **kwargs)
        if after:
            hook(after)
        return result

    setattr(owner, name, wrapper)


class PausingEmbedding(DeterministicFakeEmbedding):
    """Stops (when asked) inside an embedding call, after BM25 has learnt the batch."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        HOOK[0]("embed")
        return super().embed_documents(texts)


HOOK: list[Callable[[str], None]] = [lambda name: None]


def install(stage: str, count: int) -> None:
    hook = pause_at(stage, count)
    HOOK[0] = hook
    fake = PausingEmbedding(size=16)

    def model(self: Session) -> Any:
        self.timings.setdefault("model load", 0.0)
        return fake

    Session.model = model  # type: ignore[method-assign]
    wrap(loaders, "load_file", None, "read", hook)
    wrap(Session, "save_state", None, "manifest", hook)
    wrap(EmbedKitVectorStore, "add_documents", None, "batch", hook)
    wrap(EmbedKitVectorStore, "delete", "delete", "deleted", hook)


def report(label: str) -> None:
    session = Session(build_parser().parse_args(["info", "--no-progress"]))
    try:
        docs = session.store.peek(16_384) if session.exists() else []
        chunks = {str(d.id): d.page_content for d in docs}
    finally:
        session.close()
    print("REPORT " + json.dumps({"label": label, "chunks": chunks}), flush=True)


if __name__ == "__main__":
    # A suite started in the background of a non-interactive shell hands its children
    # SIGINT ignored; Ctrl-C in a terminal interrupts, and that is what the tests send.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    point, *options = sys.argv[1 : sys.argv.index("--")]
    argv = sys.argv[sys.argv.index("--") + 1 :]
    stage, _, number = point.partition(":")
    install(stage, int(number or 1))
    if "--report" in options:
        report("before")
    code = main(argv)
    print(f"EXIT {code}", flush=True)
    if "--report" in options:
        report("after")
        main(["info"])
    sys.exit(code)
