; Definitions in C (cpp inherits this file, so every pattern here must compile against
; the cpp grammar too). One match per definition: @definition.<kind> is the whole
; definition node, @name the identifier naming it. See grammars/README.md.

; Function definitions and prototypes (a `declaration` with a function declarator),
; including functions returning pointers (`char *f()`, `char **f()`). The return type
; is required: that keeps C++ constructors and destructors (cpp reports them as
; methods) out. In C++ classes, member names are field_identifiers, so members do not
; match these either.
(function_definition
  type: (_)
  declarator: [
    (function_declarator
      declarator: (identifier) @name)
    (pointer_declarator
      declarator: (function_declarator
        declarator: (identifier) @name))
    (pointer_declarator
      declarator: (pointer_declarator
        declarator: (function_declarator
          declarator: (identifier) @name)))
  ]) @definition.function

(declaration
  type: (_)
  declarator: [
    (function_declarator
      declarator: (identifier) @name)
    (pointer_declarator
      declarator: (function_declarator
        declarator: (identifier) @name))
    (pointer_declarator
      declarator: (pointer_declarator
        declarator: (function_declarator
          declarator: (identifier) @name)))
  ]) @definition.function

; struct / union / enum with a body (a bare `struct node *p` is a use, not a definition)
(struct_specifier
  name: (type_identifier) @name
  body: (_)) @definition.type

(union_specifier
  name: (type_identifier) @name
  body: (_)) @definition.type

(enum_specifier
  name: (type_identifier) @name
  body: (_)) @definition.type

; typedef T name; typedef T *name; typedef T name[N]; typedef R (*name)(args);
(type_definition
  declarator: [
    (type_identifier) @name
    (pointer_declarator
      declarator: (type_identifier) @name)
    (array_declarator
      declarator: (type_identifier) @name)
    (function_declarator
      declarator: (parenthesized_declarator
        (pointer_declarator
          declarator: (type_identifier) @name)))
  ]) @definition.type

; #define NAME value
(preproc_def
  name: (identifier) @name) @definition.constant

; #define NAME(args) body
(preproc_function_def
  name: (identifier) @name) @definition.macro
