; Imports in Java. @import.module is the imported name (the package for
; `import a.b.*;`). The package declaration is an @import too, without a module: it
; says which package's classes the file sees unqualified. See grammars/README.md.

(import_declaration
  [
    (identifier)
    (scoped_identifier)
  ] @import.module) @import

(package_declaration) @import
