; Scopes and blocks in Python. See grammars/README.md.

[
  (function_definition)
  (lambda)
  (class_definition)
] @local.scope

[
  (if_statement)
  (for_statement)
  (while_statement)
  (try_statement)
  (with_statement)
  (match_statement)
] @local.block
