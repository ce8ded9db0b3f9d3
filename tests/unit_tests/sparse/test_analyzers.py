from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from langchain_embedkit.sparse.analyzers import (
    AutoAnalyzer,
    ChineseAnalyzer,
    EnglishAnalyzer,
    analyzer_from_config,
    analyzer_to_config,
    get_analyzer,
    load_stopwords,
    register_analyzer,
    registered_analyzers,
    unregister_analyzer,
)


@pytest.fixture
def clean_registry() -> Iterator[None]:
    before = set(registered_analyzers())
    yield
    for name in set(registered_analyzers()) - before:
        unregister_analyzer(name)


def test_english_lowercases_drops_stopwords_and_stems() -> None:
    tokens = EnglishAnalyzer()("The Studies were running in Mice, and THE results differ.")
    assert tokens == ["studi", "run", "mice", "result", "differ"]


def test_english_keeps_single_characters_and_numbers() -> None:
    tokens = EnglishAnalyzer(stemmer=None)("Vitamin B deficiency in type 2 diabetes (1956)")
    assert tokens == ["vitamin", "b", "deficiency", "type", "2", "diabetes", "1956"]


def test_english_options() -> None:
    assert EnglishAnalyzer(stopwords=None, stemmer=None)("The cat") == ["the", "cat"]
    assert EnglishAnalyzer(stopwords=["cat"], stemmer=None)("The cat") == ["the"]
    assert EnglishAnalyzer(stemmer=None, lowercase=False)("Alan Turing") == ["Alan", "Turing"]
    assert EnglishAnalyzer(stemmer=None, token_pattern=r"\w\w+")("a b cd") == ["cd"]


def test_unknown_stemmer_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown stemmer 'klingon'.*english.*stemmer=None"):
        EnglishAnalyzer(stemmer="klingon")


def test_unknown_stopword_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown stop word list 'fr'"):
        EnglishAnalyzer(stopwords="fr")


def test_stopword_files_ship_with_the_package() -> None:
    english, chinese = load_stopwords("en"), load_stopwords("zh")
    assert len(english) == 179 and {"the", "was", "in", "an"} <= english
    assert {"的", "是", "了", "什么"} <= chinese
    assert not any(word.startswith("#") for word in english | chinese)
    # content words stay searchable
    assert {"问题", "安全", "技术", "检索"}.isdisjoint(chinese)


def test_chinese_search_mode_drops_stopwords_and_punctuation() -> None:
    tokens = ChineseAnalyzer()("RAG是一种检索增强生成技术，向量数据库存储文档的嵌入表示。")
    assert tokens[0] == "rag"
    assert {"检索", "增强", "生成", "技术", "向量", "数据库", "数据", "存储", "文档"} <= set(tokens)
    assert {"是", "的", "，", "。", "一种"}.isdisjoint(tokens)


def test_auto_keeps_both_scripts_in_mixed_text() -> None:
    tokens = AutoAnalyzer()("RAG是一种检索增强生成技术 (Retrieval-Augmented Generation)")
    assert "rag" in tokens and "检索" in tokens
    assert {"retriev", "augment", "generat"} <= set(tokens)


def test_auto_equals_english_on_text_without_han() -> None:
    text = "Born in Maida Vale, London, Turing was raised in southern England."
    assert AutoAnalyzer()(text) == EnglishAnalyzer()(text)


def test_repeated_calls_give_the_same_tokens() -> None:
    analyzer = AutoAnalyzer()
    text = "Stemming caches words: running runs 跑步 检索增强"
    first = analyzer(text)
    assert analyzer(text) == first == analyzer(text + " ")


def test_jieba_loads_lazily_and_quietly() -> None:
    code = (
        "import sys, json\n"
        "from langchain_embedkit.sparse.analyzers import AutoAnalyzer\n"
        "a = AutoAnalyzer()\n"
        "a('plain English text only')\n"
        "before = 'jieba' in sys.modules\n"
        "tokens = a('检索增强生成')\n"
        "print(json.dumps([before, 'jieba' in sys.modules, tokens]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    before, after, tokens = json.loads(result.stdout)
    assert (before, after) == (False, True)
    assert "检索" in tokens


@pytest.mark.parametrize(
    "analyzer",
    [
        EnglishAnalyzer(),
        EnglishAnalyzer(stopwords=["x"], stemmer=None, token_pattern=r"\w\w+"),
        ChineseAnalyzer(hmm=False),
        AutoAnalyzer(en=EnglishAnalyzer(stemmer="porter")),
    ],
)
def test_config_round_trips_through_json(analyzer: EnglishAnalyzer) -> None:
    config = json.loads(json.dumps(analyzer_to_config(analyzer)))
    rebuilt = analyzer_from_config(config)
    assert rebuilt == analyzer
    text = "Running studies 检索增强生成 of RAG"
    assert rebuilt(text) == analyzer(text)


def test_bad_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="exactly the keys"):
        analyzer_from_config({"name": "en", "stopwords": []})
    with pytest.raises(ValueError, match="not registered in this process"):
        analyzer_from_config({"name": "never-registered"})
    with pytest.raises(ValueError, match="string 'name'"):
        analyzer_from_config({"stopwords": []})


def test_get_analyzer_names_the_options() -> None:
    assert isinstance(get_analyzer("zh"), ChineseAnalyzer)
    assert isinstance(get_analyzer("auto"), AutoAnalyzer)
    with pytest.raises(ValueError, match=r"Unknown analyzer 'fr'; available: 'auto', 'en', 'zh'"):
        get_analyzer("fr")
    with pytest.raises(TypeError, match="must be a name"):
        get_analyzer(42)  # type: ignore[arg-type]


@pytest.mark.usefixtures("clean_registry")
def test_registration() -> None:
    def whitespace(text: str) -> list[str]:
        return text.split()

    register_analyzer("ws", whitespace)
    register_analyzer("ws", whitespace)  # same function again is fine
    assert get_analyzer("ws") is whitespace
    assert analyzer_to_config(whitespace) == {"name": "ws"}
    assert analyzer_from_config({"name": "ws"}) is whitespace
    with pytest.raises(ValueError, match="already registered"):
        register_analyzer("ws", str.split)
    register_analyzer("ws", str.split, overwrite=True)
    assert get_analyzer("ws") is str.split
    with pytest.raises(ValueError, match="reserved"):
        register_analyzer("en", whitespace)
    with pytest.raises(TypeError, match="must be callable"):
        register_analyzer("bad", "not callable")  # type: ignore[arg-type]


def test_unregistered_callable_cannot_be_described() -> None:
    with pytest.raises(ValueError, match=r"must be registered by name.*register_analyzer"):
        analyzer_to_config(lambda text: text.split())


def test_stop_word_errors_list_the_shipped_lists() -> None:
    with pytest.raises(ValueError, match=r"No stop word list named 'fr'; available: 'en', 'zh'\."):
        load_stopwords("fr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown stop word list 'fr'; use 'en', 'zh', None"):
        ChineseAnalyzer(stopwords="fr")


def test_split_modules_and_the_front_door_hold_the_same_objects() -> None:
    from langchain_embedkit.sparse import analyzers, builtin_analyzers, stopwords, tokenizers

    assert analyzers.EnglishAnalyzer is builtin_analyzers.EnglishAnalyzer
    assert analyzers.TOKEN_PATTERNS is tokenizers.TOKEN_PATTERNS
    assert analyzers.load_stopwords is stopwords.load_stopwords
