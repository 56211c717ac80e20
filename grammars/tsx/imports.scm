; inherits: typescript
; tsx uses the typescript patterns (and through them the javascript ones) unchanged.
; See grammars/README.md.
