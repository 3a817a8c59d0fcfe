"""LLM work: chat routing over providers, JSON extraction, validators, the iterate loop and its sessions."""
