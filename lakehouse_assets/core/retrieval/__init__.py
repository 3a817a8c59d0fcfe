"""Retrieval: corpora, their vocabularies and facet frames, plain-words query parsing, BM25, hybrid
ranking, the search itself and its labeled evaluation."""
