; inherits: javascript
; TypeScript-only imports, added to the javascript patterns (tsx inherits this file).
; See grammars/README.md.

; import fs = require("fs");
(import_statement
  (import_require_clause
    source: (string
      (string_fragment) @import.module))) @import

; import Utils = Shared.Utils;  (@import.module: the aliased entity)
(import_alias
  (identifier)
  .
  [
    (identifier)
    (nested_identifier)
  ] @import.module .) @import
