; Imports in C (cpp inherits this file). @import.module is the header: the text
; between the quotes for `#include "x.h"`, the whole `<x.h>` (angle brackets included:
; the grammar has no inner node) for system headers, or the macro name for
; `#include MACRO`. See grammars/README.md.

(preproc_include
  path: [
    (string_literal
      (string_content) @import.module)
    (system_lib_string) @import.module
    (identifier) @import.module
  ]) @import
