"""Start the assistant: index the seed articles when the index is empty, then chat in the terminal.

The Gradio chat UI replaces the terminal chat here when it lands.
"""

from qa.cli import main

if __name__ == "__main__":
    main(["chat", "--seed", "seeds"])
