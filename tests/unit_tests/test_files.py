"""Files from outside: links out of their folder, FIFOs, devices, size caps, encodings,
duplicate record ids."""

from __future__ import annotations

import codecs
import json
import os
import random
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langchain_embedkit import files
from langchain_embedkit.files import decode_text, format_size, parse_size, read_bytes
from langchain_embedkit.loaders import LoaderError, discover_files, load_file

posix_only = pytest.mark.skipif(os.name != "posix", reason="links, FIFOs and /dev need POSIX")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """``docs/`` with one real file, beside ``outside/secret.txt``."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "docs" / "real.md").write_text("A real note about vector search.", "utf-8")
    (tmp_path / "outside" / "secret.txt").write_text("root:x:0:0:secret", "utf-8")
    return tmp_path / "docs"


# ------------------------------------------------------------------------------ links


@posix_only
def test_a_link_out_of_the_folder_is_refused_unless_links_are_followed(docs: Path) -> None:
    link = docs / "passwd.txt"
    link.symlink_to(docs.parent / "outside" / "secret.txt")
    with pytest.raises(LoaderError, match=r"passwd\.txt' is a link to .*secret\.txt', outside"):
        load_file(link, within=docs)
    with pytest.raises(LoaderError, match="--follow-links"):
        load_file(link, within=docs)
    # the caller who follows links (no folder to stay in) reads it
    assert load_file(link)[0].page_content == "root:x:0:0:secret"


@posix_only
def test_a_link_that_stays_inside_the_folder_is_read_once(docs: Path) -> None:
    (docs / "sub").mkdir()
    (docs / "sub" / "alias.md").symlink_to("../real.md")
    found = discover_files([docs])
    assert [f.path.name for f in found] == ["real.md"]  # the same file is listed once
    [doc] = load_file(docs / "sub" / "alias.md", within=docs)
    assert doc.page_content == "A real note about vector search."


@posix_only
def test_links_to_folders_are_followed_only_on_request_and_loops_end(docs: Path) -> None:
    (docs.parent / "outside" / "more.txt").write_text("more", "utf-8")
    (docs / "ext").symlink_to(docs.parent / "outside", target_is_directory=True)
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    assert [f.path.name for f in discover_files([docs])] == ["real.md"]
    followed = sorted(f.path.name for f in discover_files([docs], follow_links=True))
    assert followed == ["more.txt", "real.md", "secret.txt"]


@posix_only
@pytest.mark.timeout(20)
def test_a_link_to_dev_zero_is_refused_without_reading(docs: Path) -> None:
    (docs / "z.txt").symlink_to("/dev/zero")
    with pytest.raises(LoaderError, match=r"z\.txt' is a link to '/dev/zero', outside"):
        load_file(docs / "z.txt", within=docs)
    with pytest.raises(LoaderError, match=r"z\.txt' is a character device, not a regular file"):
        load_file(docs / "z.txt")  # links followed: still not a regular file


# ------------------------------------------------------------------ FIFOs and devices


@posix_only
@pytest.mark.timeout(20)
def test_a_fifo_named_like_a_text_file_is_refused_without_blocking(docs: Path) -> None:
    os.mkfifo(docs / "x.txt")
    assert "x.txt" in [f.path.name for f in discover_files([docs])]
    with pytest.raises(LoaderError, match=r"x\.txt' is a named pipe \(FIFO\), not a regular"):
        load_file(docs / "x.txt", within=docs)


@posix_only
@pytest.mark.timeout(20)
def test_a_fifo_swapped_in_after_the_check_does_not_block(
    docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: the path was a regular file at ``stat`` time and is a FIFO at ``open``."""
    os.mkfifo(docs / "x.txt")
    regular = os.stat(docs / "real.md")
    real_stat = os.stat

    def stale_stat(path: str | os.PathLike[str], *args: object, **kwargs: object) -> object:
        return regular if Path(path).name == "x.txt" else real_stat(path)

    monkeypatch.setattr(files.os, "stat", stale_stat)
    with pytest.raises(LoaderError, match=r"x\.txt' was replaced while being opened"):
        read_bytes(docs / "x.txt", within=docs)


@posix_only
@pytest.mark.timeout(20)
def test_a_unix_socket_named_like_a_text_file_is_refused(docs: Path) -> None:
    import socket

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(docs / "s.txt"))
        server.listen(1)
        with pytest.raises(LoaderError, match=r"s\.txt' is a socket, not a regular file"):
            load_file(docs / "s.txt", within=docs)
    finally:
        server.close()


@posix_only
def test_a_folder_with_a_text_suffix_is_not_a_file(docs: Path) -> None:
    (docs / "odd.txt").mkdir()
    with pytest.raises(LoaderError, match=r"odd\.txt' is a folder, not a regular file"):
        read_bytes(docs / "odd.txt")
    mode = os.stat(docs / "real.md").st_mode
    assert stat.S_ISREG(mode)


# ------------------------------------------------------------------------- size cap


def test_files_over_the_size_limit_are_refused_naming_the_file_and_the_flag(docs: Path) -> None:
    big = docs / "big.txt"
    big.write_text("word " * 400, "utf-8")  # 2,000 bytes
    with pytest.raises(LoaderError) as caught:
        load_file(big, max_file_size=1000)
    message = str(caught.value)
    assert "big.txt' is 2 KB, over the 1 KB limit" in message
    assert "--max-file-size" in message and "max_file_size" in message
    assert load_file(big, max_file_size=2000)[0].page_content.startswith("word word")


def test_a_file_is_read_up_to_the_limit_only(docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that grows after ``stat`` (or lies about its size) is still cut off."""
    big = docs / "grows.txt"
    big.write_bytes(b"a" * 5000)
    small = os.stat(docs / "real.md")
    real_fstat, real_stat = os.fstat, os.stat
    grown = os.stat(big)
    fake = os.stat_result((grown.st_mode, grown.st_ino, grown.st_dev, *small[3:]))
    monkeypatch.setattr(files.os, "stat", lambda p, *a, **k: fake if p == big else real_stat(p))
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(files.os, "read", counting_read)
    monkeypatch.setattr(files.os, "fstat", real_fstat)
    with pytest.raises(LoaderError, match=r"grows\.txt' is 1\.001 KB, over the 1 KB limit"):
        read_bytes(big, max_file_size=1000)
    assert sum(reads) <= 1001


@pytest.mark.parametrize(
    ("text", "size"),
    [("50MB", 50_000_000), ("512 kb", 512_000), ("2GB", 2 * 10**9), ("1GiB", 2**30), ("7", 7e6)],
)
def test_parse_size(text: str, size: float) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "-1MB", "0", "ten", "5 parsecs", "1e9"])
def test_parse_size_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="Not a file size"):
        parse_size(text)


def test_format_size() -> None:
    assert [format_size(n) for n in (999, 2000, 50_000_000, 1_500_000_000)] == [
        "999 bytes",
        "2 KB",
        "50 MB",
        "1.5 GB",
    ]


# --------------------------------------------------------------------------- encodings

TEXTS = {
    "latin-1": "Herr Müller wohnt in der Hauptstraße in Köln. Grüße aus Bayern!",
    "cp1252": "Le café est très chaud à Noël, garçon – 5 € « merci ».",
    "shift_jis": "日本語のテキストです。東京都に住んでいます。",
    "euc_jp": "日本語のテキストです。東京都に住んでいます。",
    "gb18030": "向量数据库存储文档的嵌入表示。它用近似最近邻索引检索相似向量！",
    "big5": "繁體中文的文件內容，向量資料庫。",
    "euc_kr": "한국어 텍스트입니다. 벡터 검색.",
    "cp1251": "Привет мир, это тест векторного поиска.",
    "utf-8": "UTF-8: Müller, 向量检索, 東京, Привет.",
}


@pytest.mark.parametrize("encoding", sorted(TEXTS))
def test_common_encodings_decode_correctly(encoding: str) -> None:
    text = TEXTS[encoding]
    assert decode_text(text.encode(encoding), "f.txt") == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Müller Straße", "latin-1"), ("中文编码的文件。", "gb18030"), ("こんにちは", "shift_jis")],
)
def test_short_texts_decode_as_the_common_reading(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding), "f.txt") == text


@pytest.mark.parametrize(
    "bom", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF8]
)
def test_a_byte_order_mark_decides_and_utf16_is_text_not_binary(bom: bytes, docs: Path) -> None:
    codec = {
        codecs.BOM_UTF16_LE: "utf-16-le",
        codecs.BOM_UTF16_BE: "utf-16-be",
        codecs.BOM_UTF32_LE: "utf-32-le",
        codecs.BOM_UTF8: "utf-8",
    }[bom]
    text = "Windows Notepad 保存的 UTF-16 文本。\r\nMüller."
    path = docs / "notes.txt"
    path.write_bytes(bom + text.encode(codec))
    assert load_file(path)[0].page_content == text


def test_latin1_file_is_found_by_its_words(docs: Path) -> None:
    path = docs / "address.txt"
    path.write_bytes("Müller Straße 12, 50667 Köln".encode("latin-1"))
    [doc] = load_file(path)
    assert "Müller" in doc.page_content and "Straße" in doc.page_content


def test_bytes_that_no_encoding_reads_as_text_are_refused_naming_the_file(docs: Path) -> None:
    noise = random.Random(0).randbytes(4000).replace(b"\x00", b"\x01")
    path = docs / "noise.txt"
    path.write_bytes(noise)
    with pytest.raises(LoaderError, match=r"noise\.txt") as caught:
        load_file(path)
    assert "Convert it to UTF-8" in str(caught.value) or "binary" in str(caught.value)
    bad_bom = docs / "bad16.txt"
    bad_bom.write_bytes(codecs.BOM_UTF16_LE + b"\x00\xd8")  # a lone surrogate
    with pytest.raises(LoaderError, match=r"bad16\.txt' starts with a UTF-16 byte-order mark"):
        load_file(bad_bom)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.text(max_size=300).flatmap(
            lambda text: st.sampled_from(["utf-8", "gb18030", "utf-16", "latin-1", "cp932"]).map(
                lambda codec: text.encode(codec, errors="ignore")
            )
        ),
    )
)
def test_any_bytes_decode_to_text_or_raise_the_loader_error(data: bytes) -> None:
    try:
        text = decode_text(data, "any.txt")
    except LoaderError as exc:
        assert "any.txt" in str(exc)
    else:
        assert isinstance(text, str)


def test_nul_bytes_without_a_byte_order_mark_are_binary(docs: Path) -> None:
    path = docs / "image.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    with pytest.raises(LoaderError, match=r"image\.md' looks like a binary file"):
        load_file(path)


# ------------------------------------------------------------------------ record ids


def test_duplicate_ids_in_one_jsonl_file_name_both_lines(docs: Path) -> None:
    path = docs / "records.jsonl"
    lines = [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}, {"_id": 1, "text": "c"}]
    path.write_text("\n".join(json.dumps(x) for x in lines), "utf-8")
    with pytest.raises(LoaderError, match=r"records\.jsonl' lines 1 and 3 both have the id '1'"):
        load_file(path)
