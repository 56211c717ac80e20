; Definitions in Lua. One match per definition: @definition.<kind> is the whole
; definition node, @name the identifier naming it. See grammars/README.md.
; `function M.f()` and `M.f = function` are functions (fields of a module table);
; `function M:f()` (implicit self) is a method.

; function f() / local function f()
(function_declaration
  name: (identifier) @name) @definition.function

; function M.f() / function a.b.f()
(function_declaration
  name: (dot_index_expression
    field: (identifier) @name)) @definition.function

; function M:f()
(function_declaration
  name: (method_index_expression
    method: (identifier) @name)) @definition.method

; local f = function () end  (the first name of the list, when the first value is a function)
(variable_declaration
  (assignment_statement
    (variable_list
      .
      name: (identifier) @name)
    (expression_list
      .
      value: (function_definition)))) @definition.function

; f = function () end / M.f = function () end  (statements: the parent is the chunk or
; a block, not a `local` declaration, which the pattern above covers)
(chunk
  (assignment_statement
    (variable_list
      .
      name: [
        (identifier) @name
        (dot_index_expression
          field: (identifier) @name)
      ])
    (expression_list
      .
      value: (function_definition))) @definition.function)

(block
  (assignment_statement
    (variable_list
      .
      name: [
        (identifier) @name
        (dot_index_expression
          field: (identifier) @name)
      ])
    (expression_list
      .
      value: (function_definition))) @definition.function)

; Top-level `local X = <not a function>`, except `local x = require "m"` (an import).
(chunk
  (variable_declaration
    (assignment_statement
      (variable_list
        .
        name: (identifier) @name)
      (expression_list
        .
        value: [
          (number) (string) (true) (false) (nil)
          (table_constructor) (binary_expression) (unary_expression)
          (parenthesized_expression) (function_call)
          (identifier) (dot_index_expression) (bracket_index_expression)
        ] @_value
        (#not-match? @_value "^require[\\s(\"'\\[]")))) @definition.constant)
