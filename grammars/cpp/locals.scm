; inherits: c
; C++-only scopes and blocks, added to the c patterns. See grammars/README.md.

(class_specifier
  body: (_)) @local.scope

[
  (namespace_definition)
  (lambda_expression)
] @local.scope

[
  (for_range_loop)
  (try_statement)
] @local.block
