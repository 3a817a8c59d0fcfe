"""The local model's tokenizer under threads: counting tokens (a playbook record being indexed) while
searches encode their queries must not fail with "RuntimeError: Already borrowed" (it did under a mixed
load: the two ask the one Rust tokenizer for different truncation settings)."""

from __future__ import annotations

import threading

from lakehouse_assets.core.vectors.embedder import LocalEmbedder


def test_counting_tokens_while_encoding_queries_from_other_threads_never_fails():
    embedder = LocalEmbedder()
    expected_counts = embedder.token_counts(["welder " * 50, "nurse"])
    expected_vector = embedder.embed(["forklift operator in IL"])[0]
    errors: list[str] = []

    def encode() -> None:
        for _ in range(150):
            try:
                assert (embedder.embed(["forklift operator in IL"])[0] == expected_vector).all()
            except Exception as e:
                errors.append(repr(e))

    def count() -> None:
        for _ in range(150):
            try:
                assert embedder.token_counts(["welder " * 50, "nurse"]) == expected_counts
            except Exception as e:
                errors.append(repr(e))

    threads = [threading.Thread(target=f) for f in (encode, count, encode, count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
