; Imports in Python. A statement naming several modules (`import os, sys`) gives one
; match per module, all with the same @import node. See grammars/README.md.

(import_statement
  name: [
    (dotted_name) @import.module
    (aliased_import
      name: (dotted_name) @import.module)
  ]) @import

(import_from_statement
  module_name: [
    (dotted_name)
    (relative_import)
  ] @import.module) @import

; `from __future__ import x`: the module is the keyword itself, so no @import.module.
(future_import_statement) @import
