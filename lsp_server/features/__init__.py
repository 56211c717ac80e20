"""What sokuji does for the editor, one module per feature, each owning its flow on the
event loop: from a document's snapshot and a cursor to the answer the protocol layer
sends. No feature imports pygls or lsprotocol; they speak to the editor through
`client.Client`, which the protocol layer implements."""
