; Definitions in Python. One match per definition: @definition.<kind> is the whole
; definition node, @name the identifier naming it. See grammars/README.md.
; A decorated function or class is reported as the function_definition /
; class_definition itself (the decorators are its previous siblings).

(class_definition
  name: (identifier) @name) @definition.class

; Methods: functions directly in a class body, decorated or not.
(class_definition
  body: (block
    [
      (function_definition
        name: (identifier) @name) @definition.method
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.method)
    ]))

; Functions: everything that is not directly in a class body. Queries cannot say
; "not in a class", so the parents are listed: the module, a function body, and the
; blocks of compound statements.
(module
  [
    (function_definition
      name: (identifier) @name) @definition.function
    (decorated_definition
      definition: (function_definition
        name: (identifier) @name) @definition.function)
  ])

(function_definition
  body: (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(if_statement
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(elif_clause
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(else_clause
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(for_statement
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(while_statement
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(try_statement
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(except_clause
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(finally_clause
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(with_statement
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

(case_clause
  (block
    [
      (function_definition
        name: (identifier) @name) @definition.function
      (decorated_definition
        definition: (function_definition
          name: (identifier) @name) @definition.function)
    ]))

; Module-level constants and variables: `NAME = ...` / `NAME: T = ...` at top level
; (the first target of a chained assignment).
(module
  (expression_statement
    (assignment
      left: (identifier) @name) @definition.constant))
