"""The Gradio app: Chat, Library and Evals tabs over one shared Assistant.

Layout and wiring only; the handlers live in chat.py, library.py and evals.py, the HTML in render.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from qa import Assistant, ConfigError
from qa.offline import is_loopback
from qa.ui import chat, evals, library
from qa.ui.access import open_off_loopback, uploads_only
from qa.ui.render import CSS

# Questions the seed articles answer (one with a follow-up, one where they disagree) and one they do not.
EXAMPLES = [
    "How many F-16s is the Netherlands sending?",
    "How many drones did Russia launch?",
    "and how many were shot down?",
    "How many Ukrainians were released from Russian captivity?",
    "What is the death toll in Kyiv after the missile attack?",
    "How many tanks did Germany send?",
]
ARTICLE_HEADERS = ["title", "date", "source", "chunks", "id"]
PROGRESS = gr.Progress()  # Gradio recognises a handler parameter whose default is a gr.Progress
CHAT_CONCURRENCY = 4  # answers in parallel; llama.cpp itself runs one generation at a time (its own lock)


def build_app(
    assistant: Assistant,
    *,
    eval_set: Path | None = None,
    eval_articles: Path | None = None,
    examples: Sequence[str] = EXAMPLES,
) -> gr.Blocks:
    """The whole UI for `assistant`. Start it with `launch(app, host=..., port=..., upload_max_mb=...)`."""
    s = assistant.settings
    with gr.Blocks(title="newsqa", analytics_enabled=False) as app:
        gr.Markdown("## newsqa: ask your news articles\nAnswers come only from the indexed articles, cited as [n].")
        indicator = gr.HTML(elem_id="qa-backend")
        # The conversation lives on the server, per session: the Chatbot is only shown, never read back. Read
        # back, its messages would be the browser's to write, and Gradio turns a message naming a component
        # ("image", "audio"…) into that component, which opens whatever server file the message names.
        conversation = gr.State([])
        questions = gr.State([])
        sections = gr.State([])

        with gr.Tab("Chat", id="chat"), gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="qa-chat", feedback_options=None)
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask about the articles, e.g. How many F-16s is the Netherlands sending?",
                        scale=5,
                        elem_id="qa-question",
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-ask")
                gr.Examples(list(examples), inputs=question, label="Example questions about the seed articles")
                new_chat = gr.Button("New conversation", size="sm")
                with gr.Accordion("Settings", open=False):
                    top_k = gr.Slider(1, 20, value=s.top_k, step=1, label="Passages per answer (top-k)")
                    with gr.Row():
                        date_from = gr.Textbox(label="Articles from (YYYY-MM-DD)", placeholder="any date")
                        date_to = gr.Textbox(label="Articles to (YYYY-MM-DD)", placeholder="any date")
                    backend = gr.Radio(["auto", "ollama", "embedded"], value=s.backend, label="Backend")
                    with gr.Row():
                        model = gr.Dropdown(
                            choices=[s.ollama_model],
                            value=s.ollama_model,
                            allow_custom_value=True,
                            label="Ollama model",
                            scale=3,
                        )
                        refresh_models = gr.Button("List Ollama's models", size="sm", scale=1)
                    models_note = gr.Markdown()
                    mode = gr.Radio(
                        ["auto", "generate", "extract"],
                        value=s.mode,
                        label="Answer mode",
                        info="generate: the model writes, every sentence is verified; extract: quote the "
                        "evidence; auto: extract with the bundled base model, generate otherwise",
                    )
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(chat.panel([]), elem_id="qa-sources")

        with gr.Tab("Library", id="library"):
            with gr.Row():
                search = gr.Textbox(label="Search the library", placeholder="title, date, source or id", scale=3)
                refresh_library = gr.Button("Refresh", size="sm", scale=1)
            articles = gr.Dataframe(
                headers=ARTICLE_HEADERS, interactive=False, wrap=True, label="Indexed articles", elem_id="qa-articles"
            )
            with gr.Row():
                to_delete = gr.Dropdown(
                    choices=[], multiselect=True, allow_custom_value=True, label="Articles to delete", scale=3
                )
                delete_button = gr.Button("Delete", variant="stop", scale=1)
            delete_note = gr.Markdown()
            types = ", ".join(s.upload_types)
            gr.Markdown(f"### Add articles\nAccepted: {types}, up to {s.upload_max_mb:g} MB each.")
            # No file_types here: Gradio would refuse the whole batch for one wrong file, without naming it; the
            # app's own check refuses that file alone and says why (a result row per file).
            files = uploads_only(gr.File(file_count="multiple", type="filepath", label="Articles", elem_id="qa-upload"))
            upload_button = gr.Button("Add to the library", variant="primary", elem_id="qa-add")
            upload_note = gr.Markdown()
            upload_results = gr.Dataframe(
                headers=library.RESULT_HEADERS, interactive=False, label="Per file", elem_id="qa-upload-results"
            )
            gr.Markdown(
                "### Add a feed or a link\nAn RSS or Atom feed (its entries are indexed, teasers' pages fetched) or "
                "a web page, one address per line. The server fetches them."
            )
            links = gr.Textbox(
                label="Add a feed or a link", placeholder="https://example.org/feed.xml", lines=2, elem_id="qa-link"
            )
            link_button = gr.Button("Fetch and add", variant="primary", elem_id="qa-add-link")
            link_note = gr.Markdown()
            link_results = gr.Dataframe(
                headers=["item", "result", "detail"], interactive=False, label="Per item", elem_id="qa-link-results"
            )

        with gr.Tab("Evals", id="evals"):
            if eval_set is None or eval_articles is None:
                gr.Markdown("No eval set configured.")
            else:
                gr.Markdown(
                    f"Runs `{eval_set.name}` over the articles in `{eval_articles.name}/`, in a temporary index "
                    "(the library is not touched), with the settings the app started with."
                )
                with gr.Row():
                    limit = gr.Number(value=0, precision=0, minimum=0, label="Cases to run (0: all)", scale=1)
                    run_button = gr.Button("Run the eval set", variant="primary", scale=1)
                eval_note = gr.Markdown()
                with gr.Row():
                    metrics = gr.Dataframe(headers=evals.METRIC_HEADERS, interactive=False, label="Metrics", scale=1)
                    chart = gr.Image(label="Accuracy by type and latency", type="filepath", scale=2)
                verdicts = gr.Dataframe(
                    headers=evals.CASE_HEADERS, interactive=False, wrap=True, label="Per-question verdicts"
                )

                def on_run(n: float | None, progress: gr.Progress = PROGRESS) -> tuple[Any, ...]:
                    return evals.run_eval(
                        assistant,
                        eval_set,
                        eval_articles,
                        int(n or 0) or None,
                        lambda f, d: progress(f, desc=d),
                    )

                run_button.click(
                    on_run,
                    [limit],
                    [metrics, verdicts, chart, eval_note],
                    api_name="evaluate",
                    concurrency_limit=1,
                    concurrency_id="evals",
                )

        # --- chat -------------------------------------------------------------------------------
        def on_ask(
            text: str,
            messages: list[chat.Message] | None,
            asked: list[str],
            shown: list[str],
            k: float,
            start: str,
            end: str,
            backend_name: str,
            model_name: str,
            mode_name: str,
        ) -> Iterator[tuple[Any, ...]]:
            options = chat.AskOptions(int(k), start, end, backend_name, model_name, mode_name)
            for update in chat.respond(assistant, text, messages, asked, shown, options):
                yield (*update, update[0])  # the messages shown are the conversation kept

        ask_inputs = [question, conversation, questions, sections, top_k, date_from, date_to, backend, model, mode]
        ask_outputs = [chatbot, question, questions, sections, sources, conversation]
        ask_button.click(
            on_ask, ask_inputs, ask_outputs, api_name="ask", concurrency_limit=CHAT_CONCURRENCY, concurrency_id="chat"
        )
        question.submit(
            on_ask,
            ask_inputs,
            ask_outputs,
            api_visibility="private",
            concurrency_limit=CHAT_CONCURRENCY,
            concurrency_id="chat",
        )
        new_chat.click(
            lambda: ([], [], [], [], chat.panel([])), None, [chatbot, conversation, questions, sections, sources]
        )

        def on_settings(backend_name: str, mode_name: str, model_name: str) -> str:
            return chat.backend_status(assistant, backend_name, mode_name, model_name)

        for control in (backend, mode, model):
            control.change(on_settings, [backend, mode, model], indicator, api_visibility="private")

        def on_models(current: str) -> tuple[Any, str]:
            names, note = chat.ollama_models(assistant, current)
            return gr.Dropdown(choices=names, value=current), note

        refresh_models.click(on_models, model, [model, models_note], api_visibility="private")

        # --- library ----------------------------------------------------------------------------
        def on_library(query: str) -> tuple[Any, Any]:
            rows = gr.Dataframe(value=library.table(assistant, query), label=library.heading(assistant))
            return rows, gr.Dropdown(choices=library.article_choices(assistant), value=[])

        def on_delete(doc_ids: list[str] | None, query: str) -> tuple[Any, ...]:
            note = library.delete(assistant, doc_ids)
            return (note, *on_library(query))

        def on_upload(paths: list[str] | None, query: str, progress: gr.Progress = PROGRESS) -> tuple[Any, ...]:
            # Gradio's own upload folder, read as Gradio reads it when it checks an input file (GRADIO_TEMP_DIR)
            received = Path(get_upload_folder())
            rows, note = library.upload(assistant, paths, lambda f, d: progress(f, desc=d), received_in=received)
            return (rows, note, None, *on_library(query))

        def on_links(text: str | None, query: str, progress: gr.Progress = PROGRESS) -> tuple[Any, ...]:
            rows, note = library.add_links(assistant, text, lambda f, d: progress(f, desc=d))
            return (rows, note, *on_library(query))

        search.change(on_library, search, [articles, to_delete], api_name="articles")
        refresh_library.click(on_library, search, [articles, to_delete], api_visibility="private")
        delete_button.click(on_delete, [to_delete, search], [delete_note, articles, to_delete], api_name="delete")
        upload_button.click(
            on_upload,
            [files, search],
            [upload_results, upload_note, files, articles, to_delete],
            api_name="upload",
            concurrency_limit=1,
            concurrency_id="ingest",
        )
        link_button.click(
            on_links,
            [links, search],
            [link_results, link_note, articles, to_delete],
            api_name="add_links",
            concurrency_limit=1,
            concurrency_id="ingest",
        )

        def on_load(backend_name: str, mode_name: str, model_name: str, query: str) -> tuple[Any, ...]:
            return (on_settings(backend_name, mode_name, model_name), *on_library(query))

        app.load(on_load, [backend, mode, model, search], [indicator, articles, to_delete], api_visibility="private")
    blocks: gr.Blocks = app
    return blocks


def launch(
    app: gr.Blocks,
    *,
    host: str,
    port: int,
    upload_max_mb: float,
    auth: tuple[str, str] | None = None,
    blocked_paths: Sequence[Path] = (),
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> Any:
    """Serve the app on its own; `qa serve` mounts it beside the HTTP API instead (qa/api/server.py)."""
    options = gradio_options(host=host, upload_max_mb=upload_max_mb, auth=auth, blocked_paths=blocked_paths)
    return app.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        **options,
    )


def gradio_options(
    *, host: str, upload_max_mb: float, auth: tuple[str, str] | None, blocked_paths: Sequence[Path] = ()
) -> dict[str, Any]:
    """What Gradio is told however it is served (launched, or mounted in the API's FastAPI app).

    A login (`auth`, see `qa.ui.access.ui_auth`) is required unless `host` is loopback. Gradio serves no file of
    ours: no allowed_paths (and GRADIO_ALLOWED_PATHS is refused), `blocked_paths` (the index and the uploads) on top
    of any GRADIO_BLOCKED_PATHS, no monitoring page, no MCP server, no run history. The upload size is checked by
    the app itself (with a clear message) well before the server's hard limit, set at twice it.
    """
    if auth is None and not is_loopback(host):
        raise ConfigError(open_off_loopback(host))
    if os.environ.get("GRADIO_ALLOWED_PATHS", "").strip():
        raise ConfigError(
            "GRADIO_ALLOWED_PATHS is set: it would let the web UI serve those files to anyone who can reach it; "
            "unset it (the UI needs no allowed paths)"
        )
    blocked = [str(p.resolve()) for p in blocked_paths]
    blocked += [p.strip() for p in os.environ.get("GRADIO_BLOCKED_PATHS", "").split(",") if p.strip()]
    return {
        "auth": auth,
        "css": CSS,
        "max_file_size": f"{max(1, int(upload_max_mb * 2))}mb",
        "show_error": True,
        "allowed_paths": None,
        "blocked_paths": blocked or None,
        "enable_monitoring": False,
        "mcp_server": False,
        "run_history": False,
    }
