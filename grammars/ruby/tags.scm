; Definitions in Ruby. One match per definition: @definition.<kind> is the whole
; definition node, @name the identifier naming it. See grammars/README.md.

; Methods: `def m` / `def self.m` directly in a class, module or `class << self` body.
(class
  body: (body_statement
    [
      (method
        name: (_) @name)
      (singleton_method
        name: (_) @name)
    ] @definition.method))

(module
  body: (body_statement
    [
      (method
        name: (_) @name)
      (singleton_method
        name: (_) @name)
    ] @definition.method))

(singleton_class
  body: (body_statement
    [
      (method
        name: (_) @name)
      (singleton_method
        name: (_) @name)
    ] @definition.method))

; Functions: `def f` at the top level of the file.
(program
  [
    (method
      name: (_) @name)
    (singleton_method
      name: (_) @name)
  ] @definition.function)

; class Foo / class Foo::Bar (the name is the last component)
(class
  name: [
    (constant) @name
    (scope_resolution
      name: (_) @name)
  ]) @definition.class

(module
  name: [
    (constant) @name
    (scope_resolution
      name: (_) @name)
  ]) @definition.module

; FOO = ... (at any level: constants in classes and modules too)
(assignment
  left: (constant) @name) @definition.constant
