"""The model side: llama.cpp in-process. Never imports context/ or the server."""
