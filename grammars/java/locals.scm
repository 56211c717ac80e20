; Scopes and blocks in Java. See grammars/README.md.

[
  (class_declaration)
  (record_declaration)
  (interface_declaration)
  (annotation_type_declaration)
  (enum_declaration)
  (method_declaration)
  (constructor_declaration)
  (compact_constructor_declaration)
  (lambda_expression)
  ; anonymous classes: new Runnable() { ... }
  (object_creation_expression
    (class_body))
] @local.scope

[
  (if_statement)
  (for_statement)
  (enhanced_for_statement)
  (while_statement)
  (do_statement)
  (try_statement)
  (try_with_resources_statement)
  (switch_expression)
  (synchronized_statement)
] @local.block
