; inherits: javascript
; TypeScript-only scopes and definitions, added to the javascript patterns (tsx inherits this
; file). See grammars/README.md.

[
  (abstract_class_declaration)
  (interface_declaration)
  (internal_module)
  (module)
] @local.scope

(abstract_class_declaration name: (type_identifier) @local.definition)
(required_parameter pattern: (identifier) @local.definition)
(optional_parameter pattern: (identifier) @local.definition)
(enum_declaration name: (identifier) @local.definition)
(internal_module name: (identifier) @local.definition)
(module name: (identifier) @local.definition)
(function_signature name: (identifier) @local.definition)
; `import fs = require("fs")`, `import Utils = Shared.Utils`
(import_require_clause . (identifier) @local.definition)
(import_alias . (identifier) @local.definition)
; A parameter of a signature without a body (`declare function f(x)`, a function type, an
; interface method) matches the parameter patterns but binds nothing: context/bindings.py
; drops it. Type names are `type_identifier` nodes and are not captured as references.
