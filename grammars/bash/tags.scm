; Definitions in Bash. One match per definition: @definition.<kind> is the whole
; definition node, @name the word naming it. See grammars/README.md.

; f() { ... } / function f { ... }
(function_definition
  name: (word) @name) @definition.function

; Top-level NAME=value, also after export / readonly / declare (not `local`, which
; only appears in functions).
(program
  (variable_assignment
    name: (variable_name) @name) @definition.constant)

(program
  (declaration_command
    (variable_assignment
      name: (variable_name) @name) @definition.constant))
