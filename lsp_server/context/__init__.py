"""What the model should see. Never imports the engine or pygls."""
