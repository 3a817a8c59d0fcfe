"""Memory: the durable JSONL journals and what is kept in them (pathways, playbooks, the observer)."""
