; Definitions in Java. One match per definition: @definition.<kind> is the whole
; definition node, @name the identifier naming it. See grammars/README.md.

[
  (class_declaration
    name: (identifier) @name)
  (record_declaration
    name: (identifier) @name)
] @definition.class

[
  (interface_declaration
    name: (identifier) @name)
  (annotation_type_declaration
    name: (identifier) @name)
] @definition.interface

(enum_declaration
  name: (identifier) @name) @definition.type

[
  (method_declaration
    name: (identifier) @name)
  (constructor_declaration
    name: (identifier) @name)
  (compact_constructor_declaration
    name: (identifier) @name)
  ; elements of an @interface: `String value() default "";`
  (annotation_type_element_declaration
    name: (identifier) @name)
] @definition.method

; Fields (class, enum and record bodies) and interface constants. `int a, b;` gives
; one match per name, with the same declaration node.
(field_declaration
  declarator: (variable_declarator
    name: (identifier) @name)) @definition.constant

(constant_declaration
  declarator: (variable_declarator
    name: (identifier) @name)) @definition.constant
