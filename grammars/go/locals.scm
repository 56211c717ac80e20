; Scopes and blocks in Go. See grammars/README.md.

[
  (function_declaration)
  (method_declaration)
  (func_literal)
] @local.scope

; struct and interface type declarations are the class-like scopes
(type_spec
  type: [
    (struct_type)
    (interface_type)
  ]) @local.scope

[
  (if_statement)
  (for_statement)
  (expression_switch_statement)
  (type_switch_statement)
  (select_statement)
] @local.block
