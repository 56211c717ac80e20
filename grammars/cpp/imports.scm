; inherits: c
; C++-only imports, added to the c patterns. See grammars/README.md.

; using std::string;  using namespace std;  (@import.module: the name brought in)
(using_declaration
  [
    (identifier)
    (qualified_identifier)
  ] @import.module) @import
