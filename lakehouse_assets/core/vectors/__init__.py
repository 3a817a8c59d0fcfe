"""Vectors: embedders (torch, ONNX int8, static, Ollama), the Chroma store, its in-memory mirror and
incremental indexing."""
