"""The embedding cache: hits, misses, identity without secrets, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, SecretStr

from langchain_embedkit.evaluation.cache import EmbeddingCache, content_hash, model_identity

from .conftest import WordCountEmbeddings

TEXTS = ["Paris is the capital of France", "Rome is in Italy", "pasta pasta"]


def test_second_encode_reads_disk_and_calls_no_model(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, chunk_size=2)
    model = WordCountEmbeddings()
    first = cache.encode(model, TEXTS, show_progress_bar=False)
    assert cache.last_hit is False
    assert model.document_calls == 2  # chunks of two
    again = WordCountEmbeddings()
    second = cache.encode(again, TEXTS, show_progress_bar=False)
    assert cache.last_hit is True
    assert again.document_calls == 0
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32
    files = sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file())
    assert files == [".json", ".npy"]
    np.load(next(tmp_path.rglob("*.npy")), allow_pickle=False)  # no pickled objects


def test_queries_use_embed_query_and_have_their_own_entry(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    model = WordCountEmbeddings()
    cache.encode(model, TEXTS, show_progress_bar=False)
    cache.encode(model, TEXTS, role="queries", show_progress_bar=False)
    assert cache.last_hit is False
    assert model.query_calls == 3
    assert len(list(tmp_path.rglob("queries-*.npy"))) == 1


def test_other_model_settings_or_texts_miss(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.encode(WordCountEmbeddings(), TEXTS, show_progress_bar=False)
    scaled = WordCountEmbeddings(scale=2.0)
    out = cache.encode(scaled, TEXTS, show_progress_bar=False)
    assert cache.last_hit is False and scaled.document_calls == 1
    assert out[0].max() == 2.0
    cache.encode(WordCountEmbeddings(), [*TEXTS, "one more"], show_progress_bar=False)
    assert cache.last_hit is False
    cache.encode(WordCountEmbeddings(), list(reversed(TEXTS)), show_progress_bar=False)
    assert cache.last_hit is False


def test_content_hash_respects_boundaries_and_order() -> None:
    assert content_hash(["ab", "c"]) != content_hash(["a", "bc"])
    assert content_hash(["a", "b"]) != content_hash(["b", "a"])
    assert content_hash(["a", "b"]) == content_hash(["a", "b"])


class KeyedEmbeddings(BaseModel, Embeddings):
    """A hosted-API-like model with a key and speed settings."""

    model: str = "text-embedding-3-small"
    dimensions: int | None = None
    api_key: SecretStr = SecretStr("sk-very-secret")
    base_url: str = "http://127.0.0.1:9/v1"
    batch_size: int = 10
    max_retries: int = 3

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), 1.0] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float(len(text)), 1.0]


def test_identity_drops_secrets_and_speed_settings(tmp_path: Path) -> None:
    identity = model_identity(KeyedEmbeddings())
    assert identity["params"] == {
        "base_url": "http://127.0.0.1:9/v1",
        "dimensions": None,
        "model": "text-embedding-3-small",
    }
    assert identity["class"].endswith("KeyedEmbeddings")
    EmbeddingCache(tmp_path).encode(KeyedEmbeddings(), TEXTS, show_progress_bar=False)
    stored = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert "sk-very-secret" not in stored
    assert "text-embedding-3-small" in next(tmp_path.iterdir()).name
    # Batch size changes speed, not vectors: same entry.
    cache = EmbeddingCache(tmp_path)
    cache.encode(KeyedEmbeddings(batch_size=99), TEXTS, show_progress_bar=False)
    assert cache.last_hit is True
    cache.encode(KeyedEmbeddings(dimensions=256), TEXTS, show_progress_bar=False)
    assert cache.last_hit is False


class PathEmbeddings(BaseModel, Embeddings):
    model_name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]


def test_a_changed_local_model_folder_is_a_new_entry(tmp_path: Path) -> None:
    model_dir = tmp_path / "models" / "mini"
    model_dir.mkdir(parents=True)
    (model_dir / "model.safetensors").write_bytes(b"v1")
    cache = EmbeddingCache(tmp_path / "cache")
    cache.encode(PathEmbeddings(model_name=str(model_dir)), TEXTS, show_progress_bar=False)
    cache.encode(PathEmbeddings(model_name=str(model_dir)), TEXTS, show_progress_bar=False)
    assert cache.last_hit is True
    (model_dir / "model.safetensors").write_bytes(b"version 2")
    cache.encode(PathEmbeddings(model_name=str(model_dir)), TEXTS, show_progress_bar=False)
    assert cache.last_hit is False


def test_broken_entries_are_encoded_again(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    model = WordCountEmbeddings()
    cache.encode(model, TEXTS, show_progress_bar=False)
    npy = next(tmp_path.rglob("*.npy"))
    np.save(npy, np.zeros((2, 9), dtype=np.float32))  # wrong row count
    with pytest.warns(UserWarning, match="does not match its description"):
        cache.encode(model, TEXTS, show_progress_bar=False)
    assert cache.last_hit is False
    npy.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        cache.encode(model, TEXTS, show_progress_bar=False)
    meta = next(tmp_path.rglob("*.json"))
    assert json.loads(meta.read_text())["count"] == 3
    # A description without its matrix (interrupted write) is simply a miss.
    npy.unlink()
    cache.encode(model, TEXTS, show_progress_bar=False)
    assert cache.last_hit is False and npy.exists()


def test_a_model_returning_too_few_vectors_is_an_error(tmp_path: Path) -> None:
    class Short(WordCountEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return super().embed_documents(texts)[:-1]

    with pytest.raises(RuntimeError, match="returned 2 vectors for 3 texts"):
        EmbeddingCache(tmp_path).encode(Short(), TEXTS, show_progress_bar=False)


def test_default_cache_dir_follows_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LANGCHAIN_EMBEDKIT_CACHE", raising=False)
    monkeypatch.setenv("EMBEDKIT_CACHE_DIR", str(tmp_path / "x"))
    assert EmbeddingCache().cache_dir == tmp_path / "x" / "embeddings"
    monkeypatch.delenv("EMBEDKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert EmbeddingCache().cache_dir == tmp_path / "xdg" / "langchain-embedkit" / "embeddings"
