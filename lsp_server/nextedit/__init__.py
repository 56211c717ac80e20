"""Next-edit suggestions: after an edit, the edit it implies, at the place it belongs.
Rules from the syntax tree and the edit history (rename, signature, siblings), checked
like fixes; proposals from a model trained for it (Sweep's) where `nextEditModel` names one."""
