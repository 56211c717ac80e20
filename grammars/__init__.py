"""Tree-sitter queries, one folder per language (see README.md). Shipped as lsp_server.grammars."""
