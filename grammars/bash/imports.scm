; Imports in Bash: `source file` and `. file`. @import.module is the first argument
; (a word, or a string that may contain expansions). See grammars/README.md.

(command
  name: (command_name) @_command
  .
  argument: (_) @import.module
  (#any-of? @_command "source" ".")) @import
