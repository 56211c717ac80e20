; Scopes and blocks in Lua. See grammars/README.md.

[
  (function_declaration)
  (function_definition)
] @local.scope

[
  (if_statement)
  (for_statement)
  (while_statement)
  (repeat_statement)
  (do_statement)
] @local.block
