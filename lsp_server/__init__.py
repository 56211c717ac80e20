"""sokuji (即時): code completions from a local GGUF model, served over LSP."""

__version__ = "0.1.0"
