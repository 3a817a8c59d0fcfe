"""The sample roster: its vocabulary and the deterministic worker generator."""
