; Definitions in JavaScript (also inherited by typescript and tsx, so every pattern here
; must compile against those grammars too). One match per definition: @definition.<kind>
; is the whole definition node, @name the identifier naming it. See grammars/README.md.

; function f() {} / function* g() {} (at any depth, exported or not)
(function_declaration
  name: (identifier) @name) @definition.function

(generator_function_declaration
  name: (identifier) @name) @definition.function

; class C {} (`name: (_)`: an identifier in JS, a type_identifier in TS)
(class_declaration
  name: (_) @name) @definition.class

; Methods of classes and object literals: `m() {}`, `get x() {}`, `static s() {}`, `{ m() {} }`
(method_definition
  name: [
    (property_identifier)
    (private_property_identifier)
  ] @name) @definition.method

; Object-literal properties with function values: `{ m: function () {}, n: () => 1 }`
(pair
  key: (property_identifier) @name
  value: [
    (function_expression)
    (arrow_function)
    (generator_function)
  ]) @definition.method

; const f = function () {}, let g = () => {}, var h = function* () {} (at any depth)
(variable_declarator
  name: (identifier) @name
  value: [
    (function_expression)
    (arrow_function)
    (generator_function)
  ]) @definition.function

; const C = class {}
(variable_declarator
  name: (identifier) @name
  value: (class)) @definition.class

; exports.f = function () {}, module.exports.g = () => {}, app.handle = function handle() {}
; (any `a.b = function`, except prototype assignments below)
(assignment_expression
  left: (member_expression
    object: (_) @_object
    property: (property_identifier) @name)
  right: [
    (function_expression)
    (arrow_function)
    (generator_function)
  ]
  (#not-match? @_object "(^|\\.)prototype$")) @definition.function

; Foo.prototype.bar = function () {}
(assignment_expression
  left: (member_expression
    object: (member_expression
      property: (property_identifier) @_prototype)
    property: (property_identifier) @name)
  right: [
    (function_expression)
    (arrow_function)
    (generator_function)
  ]
  (#eq? @_prototype "prototype")) @definition.method

; Top-level `const X = <not a function or class>` (exported or not), except
; `const x = require("...")`, which is an import.
(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: [
        (number) (string) (template_string) (regex) (true) (false) (null) (undefined)
        (identifier) (member_expression) (subscript_expression)
        (object) (array) (call_expression) (new_expression) (await_expression)
        (binary_expression) (unary_expression) (ternary_expression)
        (parenthesized_expression)
      ] @_value
      (#not-match? @_value "^require\\s*\\(")) @definition.constant))

(program
  (export_statement
    declaration: (lexical_declaration
      kind: "const"
      (variable_declarator
        name: (identifier) @name
        value: [
          (number) (string) (template_string) (regex) (true) (false) (null) (undefined)
          (identifier) (member_expression) (subscript_expression)
          (object) (array) (call_expression) (new_expression) (await_expression)
          (binary_expression) (unary_expression) (ternary_expression)
          (parenthesized_expression)
        ] @_value
        (#not-match? @_value "^require\\s*\\(")) @definition.constant)))
