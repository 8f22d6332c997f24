"""Generation: the prompt and the model backends (Ollama, the bundled llama.cpp model) that draft answers."""
