; Scopes and blocks in JavaScript (also inherited by typescript and tsx).
; See grammars/README.md.

[
  (function_declaration)
  (generator_function_declaration)
  (function_expression)
  (generator_function)
  (arrow_function)
  (method_definition)
  (class_declaration)
  (class)
] @local.scope

[
  (if_statement)
  (for_statement)
  (for_in_statement)
  (while_statement)
  (do_statement)
  (try_statement)
  (switch_statement)
] @local.block

; Definitions: the identifier each binding names (a name the scope around it binds).
(function_declaration name: (identifier) @local.definition)
(generator_function_declaration name: (identifier) @local.definition)
(class_declaration name: (_) @local.definition)
(variable_declarator name: (identifier) @local.definition)
(object_pattern (shorthand_property_identifier_pattern) @local.definition)
(object_assignment_pattern left: (shorthand_property_identifier_pattern) @local.definition)
(pair_pattern value: (identifier) @local.definition)
(array_pattern (identifier) @local.definition)
(assignment_pattern left: (identifier) @local.definition)
; a parameter: a plain identifier here, wrapped in required_parameter in typescript (below), so
; any child is captured and context/bindings.py keeps the identifiers
(formal_parameters (_) @local.definition)
(rest_pattern (identifier) @local.definition)
(arrow_function parameter: (identifier) @local.definition)
(catch_clause parameter: (identifier) @local.definition)
(import_clause (identifier) @local.definition)
(import_specifier alias: (identifier) @local.definition)
(import_specifier !alias name: (identifier) @local.definition)
(namespace_import (identifier) @local.definition)
; `for (const x of xs)` declares; `for (x of xs)` assigns an existing name (a reference)
(for_in_statement kind: _ left: (identifier) @local.definition)
; a function or class expression's own name (bound inside it only: context/bindings.py)
(function_expression name: (identifier) @local.definition)
(generator_function name: (identifier) @local.definition)
(class name: (_) @local.definition)

; Destructuring in an assignment (`[a, b] = [b, a]`, `({a} = o)`) matches the pattern rules
; above but binds nothing: context/bindings.py counts those as references.

; References: every identifier that reads a name (the definitions above match too, and the
; imported / exported names of `import {a as b}`, `export {a as b}`: context/bindings.py
; tells them apart), and `{a}` in an object literal, which reads `a`.
(identifier) @local.reference
(shorthand_property_identifier) @local.reference
