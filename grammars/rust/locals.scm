; Scopes and blocks in Rust. See grammars/README.md.

[
  (function_item)
  (closure_expression)
  (impl_item)
  (trait_item)
  (mod_item)
] @local.scope

[
  (if_expression)
  (match_expression)
  (for_expression)
  (while_expression)
  (loop_expression)
  (unsafe_block)
  (async_block)
] @local.block
