; Scopes and blocks in Python. See grammars/README.md.

[
  (function_definition)
  (lambda)
  (class_definition)
] @local.scope

[
  (if_statement)
  (for_statement)
  (while_statement)
  (try_statement)
  (with_statement)
  (match_statement)
] @local.block

; Definitions: the identifier each binding names (a name the scope around it binds).
(function_definition name: (identifier) @local.definition)
(class_definition name: (identifier) @local.definition)
(parameters (identifier) @local.definition)
(lambda_parameters (identifier) @local.definition)
(default_parameter name: (identifier) @local.definition)
(typed_parameter . (identifier) @local.definition)
(typed_default_parameter name: (identifier) @local.definition)
(list_splat_pattern (identifier) @local.definition)
(dictionary_splat_pattern (identifier) @local.definition)
(assignment left: (identifier) @local.definition)
(for_statement left: (identifier) @local.definition)
(for_in_clause left: (identifier) @local.definition)
; unpacking targets, at any depth: `a, (b, c) = ...`, `for k, v in ...`
(pattern_list (identifier) @local.definition)
(tuple_pattern (identifier) @local.definition)
(list_pattern (identifier) @local.definition)
(as_pattern alias: (as_pattern_target (identifier) @local.definition))
(as_pattern_target [(tuple (identifier) @local.definition) (list (identifier) @local.definition)])
(import_statement name: (dotted_name . (identifier) @local.definition))
(aliased_import alias: (identifier) @local.definition)
(import_from_statement name: (dotted_name (identifier) @local.definition))
(named_expression name: (identifier) @local.definition)
(type_alias_statement left: (type (identifier) @local.definition))
; match / case: a capture pattern (`case x:`, `case [x, *rest]:`, `case {"k": v, **kw}:`, `case P() as p:`);
; a dotted name of one identifier directly in a case_pattern captures, `Color.RED` reads
(case_pattern . (dotted_name . (identifier) @local.definition .) .)
(keyword_pattern (dotted_name . (identifier) @local.definition .))
(splat_pattern (identifier) @local.definition)
(as_pattern (case_pattern) . (identifier) @local.definition)

; References: every identifier that reads a name. This also matches the definitions above,
; attribute names (`obj.NAME`), keyword-argument names (`f(NAME=1)`, `case P(NAME=0)`) and
; the module / imported names of an import, which queries cannot exclude: context/bindings.py
; leaves those out.
(identifier) @local.reference
