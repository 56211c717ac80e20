; Imports in Go. @import.module is the import path without quotes. A grouped
; `import ( ... )` gives one match with every path captured. See grammars/README.md.

(import_declaration
  [
    (import_spec
      path: (_
        [
          (interpreted_string_literal_content)
          (raw_string_literal_content)
        ] @import.module))
    (import_spec_list
      (import_spec
        path: (_
          [
            (interpreted_string_literal_content)
            (raw_string_literal_content)
          ] @import.module))*)
  ]) @import
