; Scopes and blocks in C (cpp inherits this file). See grammars/README.md.

(function_definition) @local.scope

; struct / union with a body are C's class-like scopes
(struct_specifier
  body: (_)) @local.scope

(union_specifier
  body: (_)) @local.scope

[
  (if_statement)
  (for_statement)
  (while_statement)
  (do_statement)
  (switch_statement)
] @local.block
