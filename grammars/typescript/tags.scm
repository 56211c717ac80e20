; inherits: javascript
; TypeScript-only definitions, added to the javascript patterns. tsx inherits this
; file, so every pattern here must compile against the tsx grammar too.
; See grammars/README.md.

(interface_declaration
  name: (type_identifier) @name) @definition.interface

(type_alias_declaration
  name: (type_identifier) @name) @definition.type

(enum_declaration
  name: (identifier) @name) @definition.type

(abstract_class_declaration
  name: (type_identifier) @name) @definition.class

; declare function f(): void; and overload signatures
(function_signature
  name: (identifier) @name) @definition.function

; Interface / object-type methods and abstract methods
(method_signature
  name: (_) @name) @definition.method

(abstract_method_signature
  name: (_) @name) @definition.method

; namespace N {}, module M {}, declare module "m" {}
(internal_module
  name: (_) @name) @definition.module

(module
  name: (_) @name) @definition.module

; Top-level `const X = <expr> as T` / `satisfies T` / `<expr>!` (values the javascript
; pattern does not list).
(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: [
        (as_expression)
        (satisfies_expression)
        (non_null_expression)
      ]) @definition.constant))

(program
  (export_statement
    declaration: (lexical_declaration
      kind: "const"
      (variable_declarator
        name: (identifier) @name
        value: [
          (as_expression)
          (satisfies_expression)
          (non_null_expression)
        ]) @definition.constant)))
