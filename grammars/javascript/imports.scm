; Imports in JavaScript (also inherited by typescript and tsx). @import.module is the
; string_fragment of the module specifier (the path without quotes).
; See grammars/README.md.

; import x from "m"; import { a } from "m"; import "m";
(import_statement
  source: (string
    (string_fragment) @import.module)) @import

; export { a } from "m"; export * from "m";
(export_statement
  source: (string
    (string_fragment) @import.module)) @import

; const x = require("m"); const { a } = require("m"); var y = require("m").y;
(lexical_declaration
  (variable_declarator
    value: [
      (call_expression
        function: (identifier) @_require
        arguments: (arguments
          .
          (string
            (string_fragment) @import.module)))
      (member_expression
        object: (call_expression
          function: (identifier) @_require
          arguments: (arguments
            .
            (string
              (string_fragment) @import.module))))
    ])
  (#eq? @_require "require")) @import

(variable_declaration
  (variable_declarator
    value: [
      (call_expression
        function: (identifier) @_require
        arguments: (arguments
          .
          (string
            (string_fragment) @import.module)))
      (member_expression
        object: (call_expression
          function: (identifier) @_require
          arguments: (arguments
            .
            (string
              (string_fragment) @import.module))))
    ])
  (#eq? @_require "require")) @import

; require("m");
(expression_statement
  (call_expression
    function: (identifier) @_require
    arguments: (arguments
      .
      (string
        (string_fragment) @import.module)))
  (#eq? @_require "require")) @import
