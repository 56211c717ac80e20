; inherits: javascript
; TypeScript-only scopes, added to the javascript patterns (tsx inherits this file).
; See grammars/README.md.

[
  (abstract_class_declaration)
  (interface_declaration)
  (internal_module)
  (module)
] @local.scope
