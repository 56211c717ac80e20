; Definitions in Go. One match per definition: @definition.<kind> is the whole
; definition node, @name the identifier naming it. See grammars/README.md.

(function_declaration
  name: (identifier) @name) @definition.function

(method_declaration
  name: (field_identifier) @name) @definition.method

; type T struct {...} -> class; type I interface {...} -> interface; other types -> type
(type_spec
  name: (type_identifier) @name
  type: (struct_type)) @definition.class

(type_spec
  name: (type_identifier) @name
  type: (interface_type)) @definition.interface

(type_spec
  name: (type_identifier) @name
  type: [
    (type_identifier)
    (qualified_type)
    (generic_type)
    (pointer_type)
    (slice_type)
    (array_type)
    (map_type)
    (channel_type)
    (function_type)
    (negated_type)
    (parenthesized_type)
  ]) @definition.type

; type A = B
(type_alias
  name: (type_identifier) @name) @definition.type

; Top-level const and var (single or grouped). `const a, b = 1, 2` gives one match
; per name, with the same const_spec node.
(source_file
  (const_declaration
    (const_spec
      name: (identifier) @name) @definition.constant))

(source_file
  (var_declaration
    (var_spec
      name: (identifier) @name) @definition.constant))

(source_file
  (var_declaration
    (var_spec_list
      (var_spec
        name: (identifier) @name) @definition.constant)))
