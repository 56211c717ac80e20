; Imports in Rust. @import.module is the path being imported from: the whole path for
; `use a::b::C;`, the prefix for `use a::b::{C, D};`, `use a::b::*;` and
; `use a::b as c;`. See grammars/README.md.

(use_declaration
  argument: [
    (identifier) @import.module
    (scoped_identifier) @import.module
    (scoped_use_list
      path: (_) @import.module)
    (use_as_clause
      path: (_) @import.module)
    (use_wildcard
      (_) @import.module)
    (use_list)
    (crate)
    (self)
    (super)
  ]) @import

(extern_crate_declaration
  name: (identifier) @import.module) @import
