; inherits: c
; C++-only definitions, added to the c patterns (functions and prototypes, struct /
; union / enum, typedef, #define). See grammars/README.md.
; Known limit: a member function template defined or declared inside a class body
; (`template <class U> void f(U);`) has a plain identifier as its name, like a free
; function, and is reported as a function by the c patterns, not as a method.

(class_specifier
  name: (type_identifier) @name
  body: (_)) @definition.class

(namespace_definition
  name: (_) @name) @definition.module

; using Name = Type;
(alias_declaration
  name: (type_identifier) @name) @definition.type

; template <typename T> concept Name = ...;
(concept_definition
  name: (identifier) @name) @definition.interface

; Free functions returning a reference (`T& f()`), which the c patterns do not cover.
(function_definition
  type: (_)
  declarator: (reference_declarator
    (function_declarator
      declarator: (identifier) @name))) @definition.function

(declaration
  type: (_)
  declarator: (reference_declarator
    (function_declarator
      declarator: (identifier) @name))) @definition.function

; Methods defined or declared in a class body: `int id() const { ... }`, `void draw();`,
; `virtual void f() = 0;`, `T& operator=(const T&);`, `~Widget() {}` (members are named by
; field_identifier, operator_name or destructor_name, which free functions never are).
(function_definition
  declarator: [
    (function_declarator
      declarator: [
        (field_identifier)
        (operator_name)
        (destructor_name)
      ] @name)
    (pointer_declarator
      declarator: (function_declarator
        declarator: [
          (field_identifier)
          (operator_name)
        ] @name))
    (reference_declarator
      (function_declarator
        declarator: [
          (field_identifier)
          (operator_name)
        ] @name))
  ]) @definition.method

(field_declaration
  declarator: [
    (function_declarator
      declarator: [
        (field_identifier)
        (operator_name)
      ] @name)
    (pointer_declarator
      declarator: (function_declarator
        declarator: [
          (field_identifier)
          (operator_name)
        ] @name))
    (reference_declarator
      (function_declarator
        declarator: [
          (field_identifier)
          (operator_name)
        ] @name))
  ]) @definition.method

; Constructors (no return type) defined or declared in a class body, templated or not,
; and destructor declarations: `Widget(int id) : id_(id) {}`, `Widget(int);`, `~Widget();`
(field_declaration_list
  (function_definition
    !type
    declarator: (function_declarator
      declarator: (identifier) @name)) @definition.method)

(field_declaration_list
  (template_declaration
    (function_definition
      !type
      declarator: (function_declarator
        declarator: (identifier) @name)) @definition.method))

(field_declaration_list
  (declaration
    !type
    declarator: (function_declarator
      declarator: [
        (identifier)
        (destructor_name)
      ] @name)) @definition.method)

; Out-of-class definitions `R Foo::bar(...) {...}`, `Foo::Foo()`, `Foo::~Foo()`,
; `R *a::B::f()`, `R &Foo::get()`: the name is the last component (one or two
; qualifiers; the return type may be a pointer or a reference).
(function_definition
  declarator: [
    (function_declarator
      declarator: (qualified_identifier
        name: [
          (identifier)
          (operator_name)
          (destructor_name)
        ] @name))
    (function_declarator
      declarator: (qualified_identifier
        name: (qualified_identifier
          name: [
            (identifier)
            (operator_name)
            (destructor_name)
          ] @name)))
    (_
      (function_declarator
        declarator: (qualified_identifier
          name: [
            (identifier)
            (operator_name)
          ] @name)))
    (_
      (function_declarator
        declarator: (qualified_identifier
          name: (qualified_identifier
            name: [
              (identifier)
              (operator_name)
            ] @name))))
  ]) @definition.method
