"""The web UI (Gradio): chat with cited answers and source cards, the article library, and the evals.

A thin layer over the public API in `qa`: no retrieval, answering or verification happens here.
"""

from qa.ui.app import build_app, gradio_options, launch

__all__ = ["build_app", "gradio_options", "launch"]
