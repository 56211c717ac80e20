; Scopes and blocks in Bash. See grammars/README.md.

(function_definition) @local.scope

[
  (if_statement)
  (for_statement)
  (c_style_for_statement)
  (while_statement)
  (case_statement)
] @local.block
