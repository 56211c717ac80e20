; Scopes and blocks in Ruby. See grammars/README.md.

[
  (method)
  (singleton_method)
  (class)
  (module)
  (singleton_class)
  (lambda)
  (block)
  (do_block)
] @local.scope

[
  (if)
  (unless)
  (while)
  (until)
  (for)
  (case)
  (case_match)
  (begin)
] @local.block
