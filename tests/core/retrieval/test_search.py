"""Matrix search mechanics with a deterministic fake embedder (fast): playbook boosts and their
bound, fetching endorsed workers the index did not return, filters, dedupe and the downgrade gate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from lakehouse_assets.core.llm.downgrade import DowngradePolicy, downgrade_gate
from lakehouse_assets.core.memory.playbook_index import index_playbooks, record_playbooks
from lakehouse_assets.core.memory.playbook_recent import RecentPlaybooks, playbook_documents
from lakehouse_assets.core.memory.playbooks import PlaybookLog, PlaybookRecord
from lakehouse_assets.core.retrieval.corpora import PLAYBOOKS, WORKERS
from lakehouse_assets.core.retrieval.exceptions import SearchError
from lakehouse_assets.core.retrieval.ranking import MAX_BOOST
from lakehouse_assets.core.retrieval.results import Hit, SearchRequest
from lakehouse_assets.core.retrieval.search import MatrixSearch
from lakehouse_assets.core.vectors.embedder import CachedEmbedder, Embedder
from lakehouse_assets.core.vectors.indexing import sync_index
from lakehouse_assets.core.vectors.store import VectorStore


class WordEmbedder(Embedder):
    """Bag of hashed words, 64-d, normalized: texts sharing words are close."""

    model = "fake-words"
    dimension = 64

    def embed(self, texts):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, sum(map(ord, w)) % self.dimension] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def worker_docs(rows: list[tuple[int, str, str, float]]) -> pa.Table:
    """(worker_id, text, state, rate) -> the columns the workers corpus produces."""
    return pa.Table.from_pylist(
        [
            {
                "id": f"worker-{wid}",
                "entity_id": str(wid),
                "text": text,
                "content_hash": f"h{wid}-{text}",
                "worker_id": wid,
                "role": text.split()[0],
                "city": "X",
                "state": state,
                "hourly_rate": rate,
                "years_experience": 1,
                "availability": "available",
                "shift": "day",
            }
            for wid, text, state, rate in rows
        ]
    )


@pytest.fixture
def setup(tmp_path: Path):
    store = VectorStore.local(tmp_path / "chroma")
    embedder = CachedEmbedder(WordEmbedder())
    rows = [(i, f"welder steel fabrication job {i}", "OH", 25.0) for i in range(1, 31)]
    rows += [(100, "welder pipe", "IL", 40.0), (101, "nurse hospital ward", "OH", 35.0)]
    sync_index(WORKERS.index, worker_docs(rows), WORKERS.metadata, embedder=embedder, store=store)
    matrix = MatrixSearch(store, embedder, min_score=0.0, policy=DowngradePolicy(weak_models=("small",)))
    log = PlaybookLog(tmp_path / "journal" / "playbooks.jsonl")

    def record(*records: PlaybookRecord) -> None:
        record_playbooks(list(records), log=log, embedder=embedder, store=store)

    return matrix, record, log


def ranks(result) -> dict[str, int]:
    return {h.entity_id: i for i, h in enumerate(result.hits)}


def test_endorsed_worker_outside_the_retrieved_set_is_fetched_and_boosted(setup):
    matrix, record, _ = setup
    query = "welder steel fabrication"
    plain = matrix.search(SearchRequest(query=query, corpora=["workers"], k=3))
    assert "100" not in ranks(plain)
    record(PlaybookRecord(query=query, endorsed_ids=("100",)))
    boosted = matrix.search(SearchRequest(query=query, corpora=["workers"], k=40, use_playbook=True))
    hit = boosted.hits[ranks(boosted)["100"]]
    assert boosted.playbooks_matched == 1
    assert math.isclose(hit.boost, MAX_BOOST * math.tanh(1.0), rel_tol=1e-3)  # one exact-match playbook
    assert hit.parts.dense == pytest.approx(hit.similarity + hit.boost, abs=1e-6) and hit.parts.boost == hit.boost
    assert hit.why[0].effect == "endorsed" and hit.why[0].query == query


def test_boost_is_bounded_however_many_playbooks_agree(setup):
    matrix, record, _ = setup
    query = "welder steel fabrication"
    record(*[PlaybookRecord(query=query, endorsed_ids=("5",), contract_id=f"c{i}") for i in range(12)])
    hit = next(h for h in matrix.search(SearchRequest(query=query, k=40, use_playbook=True)).hits if h.entity_id == "5")
    assert 0.14 < hit.boost <= MAX_BOOST and len(hit.why) == 12


def test_rejections_demote_and_failed_outcomes_do_not_endorse(setup):
    matrix, record, _ = setup
    query = "welder steel fabrication"
    record(
        PlaybookRecord(query=query, endorsed_ids=("7",), outcome="failure"),
        PlaybookRecord(query=query, endorsed_ids=("8",), rejected_ids=("9",), contract_id="x"),
    )
    hits = {h.entity_id: h for h in matrix.search(SearchRequest(query=query, k=40, use_playbook=True)).hits}
    assert hits["7"].boost == 0 and hits["7"].why[0].outcome == "failure"
    assert hits["8"].boost > 0 and hits["9"].boost < 0


def test_fetched_workers_still_honour_the_filter(setup):
    matrix, record, _ = setup
    query = "welder steel fabrication"
    record(PlaybookRecord(query=query, endorsed_ids=("100",)))  # worker 100 is in IL
    result = matrix.search(SearchRequest(query=query, k=40, filter={"state": "OH"}, use_playbook=True))
    assert "100" not in ranks(result) and all(h.metadata["state"] == "OH" for h in result.hits)


def test_playbook_log_is_the_record_of_truth(setup):
    _, record, log = setup
    record(PlaybookRecord(query="night welder", endorsed_ids=("1", "2")))
    with open(log.path, "a") as f:
        f.write('{"torn": \n')
    replay = log.replay()
    assert [r.endorsed_ids for r in replay.records] == [("1", "2")] and replay.skipped_lines == 1


def test_search_validates_its_request(setup):
    matrix, _, _ = setup
    for req, words in (
        (SearchRequest(query="  "), "empty"),
        (SearchRequest(query="x", k=0), "k must"),
        (SearchRequest(query="x", corpora=["nope"]), "unknown corpus"),
        (SearchRequest(query="x", filter={"playbook_id": "p", "state": "OH"}), "no requested corpus"),
        (SearchRequest(query="x", corpora=["workers"], filter={"state": ["OH"]}), "state"),
    ):
        with pytest.raises(SearchError, match=words):
            matrix.search(req)


def test_playbooks_corpus_hits_are_their_own_entities(setup):
    matrix, record, _ = setup
    record(PlaybookRecord(query="welder steel fabrication", endorsed_ids=("3",)))
    result = matrix.search(SearchRequest(query="welder steel fabrication", k=5))
    kinds = {h.entity for h in result.hits}
    assert kinds == {"worker", "playbook"} and set(result.corpora) == {WORKERS.name, PLAYBOOKS.name}


def _hits(scores: list[float]) -> list[Hit]:
    return [Hit("workers", f"w{i}", "worker", str(i), s, s, 1 - s, {}, "") for i, s in enumerate(scores)]


@pytest.mark.parametrize(
    ("scores", "model", "strong", "reason"),
    [
        ([0.7, 0.69, 0.68], None, False, "confident"),
        ([0.7, 0.69], None, True, "only 2 hits"),
        ([0.5, 0.49, 0.48], None, True, "below the confidence bar"),
        ([0.8, 0.7, 0.6], None, True, "disagree"),
        ([0.3], "small", False, "weak-model list"),
    ],
)
def test_downgrade_gate(scores, model, strong, reason):
    d = downgrade_gate(_hits(scores), model, DowngradePolicy(weak_models=("small",), weak_model="small"))
    assert d.strong_needed is strong and reason in d.reason


def test_a_journaled_playbook_boosts_before_the_index_holds_it_and_counts_once_after(setup):
    matrix, _, log = setup
    matrix.recent = RecentPlaybooks(log, matrix.embedder)
    query = "welder steel fabrication"
    record = PlaybookRecord(query=query, endorsed_ids=("100",))
    matrix.recent.append([record])  # journaled only: no playbooks index yet
    assert PLAYBOOKS.index not in {i.name for i in matrix.store.list_indexes()}
    early = matrix.search(SearchRequest(query=query, corpora=["workers"], k=40, use_playbook=True))
    hit = early.hits[ranks(early)["100"]]
    assert early.playbooks_matched == 1 and math.isclose(hit.boost, MAX_BOOST * math.tanh(1.0), rel_tol=1e-3)
    index_playbooks(playbook_documents([record]), log=log, embedder=matrix.embedder, store=matrix.store)
    late = matrix.search(SearchRequest(query=query, corpora=["workers"], k=40, use_playbook=True))
    assert late.playbooks_matched == 1  # the index's copy and the journal's are one playbook
    assert late.hits[ranks(late)["100"]].boost == hit.boost and matrix.recent.pending == 0
