; Imports in Ruby: `require "x"`, `require_relative "x"`, `load "x"` (receiver-less
; calls). @import.module is the string's content. See grammars/README.md.

(call
  !receiver
  method: (identifier) @_method
  arguments: (argument_list
    .
    (string
      (string_content) @import.module))
  (#any-of? @_method "require" "require_relative" "load")) @import
