; Imports in Lua: statements calling `require "m"` / `require("m")`:
; `local x = require "m"`, `x = require "m"`, and a bare `require "m"`.
; @import.module is the string's content. See grammars/README.md.

(variable_declaration
  (assignment_statement
    (expression_list
      value: (function_call
        name: (identifier) @_require
        arguments: (arguments
          .
          (string
            content: (string_content) @import.module)))))
  (#eq? @_require "require")) @import

; (an assignment that is not part of a `local` declaration)
(chunk
  (assignment_statement
    (expression_list
      value: (function_call
        name: (identifier) @_require
        arguments: (arguments
          .
          (string
            content: (string_content) @import.module))))
    (#eq? @_require "require")) @import)

(block
  (assignment_statement
    (expression_list
      value: (function_call
        name: (identifier) @_require
        arguments: (arguments
          .
          (string
            content: (string_content) @import.module))))
    (#eq? @_require "require")) @import)

(chunk
  (function_call
    name: (identifier) @_require
    arguments: (arguments
      .
      (string
        content: (string_content) @import.module))
    (#eq? @_require "require")) @import)

(block
  (function_call
    name: (identifier) @_require
    arguments: (arguments
      .
      (string
        content: (string_content) @import.module))
    (#eq? @_require "require")) @import)
