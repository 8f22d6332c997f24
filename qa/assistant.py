"""The Python API: ingest articles, ask questions, inspect the index."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel

from qa.arguments import check_ids, check_paths, check_question, check_top_k
from qa.chunks import Passage
from qa.errors import BackendError, IndexEmptyError, InputError, ModelStoppedError, QAError
from qa.generation.backends import LLM, BackendChoice, OllamaLLM, choose_backend, fallback
from qa.generation.prompts import answer_prompt
from qa.grounding.answer import Answer, chosen_answer, grounded_answer, refusal
from qa.grounding.choices import is_none_of_the_above, pick
from qa.grounding.citations import drop_invalid
from qa.grounding.ground import ground
from qa.index.compact import CompactReport, compact
from qa.index.doctor import Doctor, DoctorReport
from qa.index.embeddings import Embedder, SentenceTransformerEmbedder
from qa.index.layout import ArticleRecord
from qa.index.locking import WaitCallback
from qa.index.migrate import MigrationReport, migrate
from qa.index.store import Store
from qa.ingest.fetch import url_problem
from qa.ingest.report import FailedFile, IngestReport, ProgressCallback
from qa.ingest.run import Ingestor
from qa.ingest.web import Collected, Sources, WebSources, sort_sources
from qa.reader.runtime import Reader, shared_reader
from qa.reader.scoring import shipped_mix
from qa.retrieval.followup import standalone_question
from qa.retrieval.hybrid import HybridRetriever, Retriever, bm25_for, renumber
from qa.settings import Settings


class Status(BaseModel):
    index: str
    server: bool = False  # the index lives on a Chroma server (QA_CHROMA_URL), not in a local directory
    collection: str = "articles"
    articles: int
    stories: int = 0  # articles not counting near-duplicate copies of one story (qa/ingest/stories.py)
    chunks: int
    embedding_model: str
    backend: str
    model: str
    note: str | None


class Assistant:
    """Question answering over a folder of news articles.

    Dependencies are passed in or built from settings: `Assistant(settings=None, *, llm=None,
    store=None, embedder=None, reader=None, retriever=None)`. Models load on first use, so constructing one is cheap.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: LLM | None = None,
        store: Store | None = None,
        embedder: Embedder | None = None,
        reader: Reader | None = None,
        retriever: Retriever | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or SentenceTransformerEmbedder(
            self.settings.embedding_model, self.settings.embed_batch_size, self.settings.embedding_backend
        )
        self.store = store or Store(self.settings, self.embedder.name)
        self.reader = reader or shared_reader(precision=self.settings.reader_precision)
        # Another retriever (a benchmark's in-memory BM25 one, qa/evals/lexical.py) may stand in for the hybrid one.
        self.retriever: Retriever = retriever or HybridRetriever(self.settings, self.store, self.embedder)
        self._llm = llm

    # --- library --------------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        prune: bool = True,
        rebuild: bool = False,
        on_progress: ProgressCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> IngestReport:
        """Index new and changed articles under `paths` (a list, or one path); drop those of files deleted from
        ingested folders.

        A path may be an `http(s)://` URL (a page, or a feed) or a local .xml/.rss/.atom feed: a page is fetched and
        its article extracted, a feed's entries are indexed, and an entry that is only a teaser has its link fetched
        (qa/ingest/web.py). Nothing is contacted but the URLs given, the links of the feeds given, and robots.txt.

        Holds the index's write lock: another writer (in this process or another) is waited for, up to
        `lock_timeout` seconds, and `on_wait` is told once that it waits.
        """
        return self._ingest(sort_sources(check_paths(paths)), prune, rebuild, on_progress, on_wait)

    def ingest_urls(
        self,
        urls: Iterable[str],
        *,
        on_progress: ProgressCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> IngestReport:
        """Fetch and index pages and feeds by URL only (a list, or one URL): never a local path, whatever the text
        says, so a URL typed into the web UI cannot name a file of the server. Not http(s): reported as failed."""
        sources = Sources()
        for url in check_paths(urls):
            text = str(url)
            problem = url_problem(text)
            if problem:
                sources.refused.append(FailedFile(path=text, error=problem))
            else:
                sources.urls.append(text)
        return self._ingest(sources, False, False, on_progress, on_wait)

    def _ingest(
        self,
        sources: Sources,
        prune: bool,
        rebuild: bool,
        on_progress: ProgressCallback | None,
        on_wait: WaitCallback | None,
    ) -> IngestReport:
        collected = Collected()
        if sources.urls or sources.feeds:
            # Fetched before the lock is taken: a slow site must not hold up other writers of the index.
            collected = WebSources(self.settings).collect(sources.urls, sources.feeds)
        ingestor = Ingestor(self.settings, self.store, self.embedder)
        with self.store.writing("ingest", on_wait):
            if rebuild:
                self.store.reset()
            report = ingestor.run([*sources.paths, *collected.files], prune=prune, on_progress=on_progress)
        report.failed[:0] = [*sources.refused, *collected.failed]
        report.fetched = collected.fetched
        if report.changed:
            # Build the retriever's BM25 index and chunk table now and save them with the index, so the first
            # question after an ingest (in this process or a fresh one) does not spend ~30 s per 70k chunks on it.
            bm25_for(self.store)
        return report

    def stories(self) -> int:
        """How many stories the indexed articles tell (near-duplicate copies counted once)."""
        return self.store.count_stories()

    def articles(self) -> list[ArticleRecord]:
        return sorted(self.store.articles(), key=lambda r: (r.date or "", r.title), reverse=True)

    def remove(self, doc_ids: Iterable[str], *, on_wait: WaitCallback | None = None) -> int:
        """Delete articles (and their chunks) from the index by id (a list, or one id); returns how many were there."""
        wanted = check_ids(doc_ids)
        with self.store.writing("remove", on_wait):
            known = {r.doc_id for r in self.store.articles()}
            removed = 0
            for doc_id in wanted:
                if doc_id in known:
                    self.store.delete_article(doc_id)
                    removed += 1
            if removed:
                self.store.bump_revision()
        return removed

    def doctor(self, *, repair: bool = False, on_wait: WaitCallback | None = None) -> DoctorReport:
        """Check that the catalog and the chunk collection agree and that the vector index returns every chunk;
        with `repair`, rebuild the chunks (and their vectors) from the catalog's article texts when they do not."""
        return Doctor(self.settings, self.store, self.embedder).run(repair=repair, on_wait=on_wait)

    def compact(self, *, on_wait: WaitCallback | None = None) -> CompactReport:
        """Give back the disk space deletes and updates left behind (qa/index/compact.py); every record is kept."""
        self.store.close()
        report = compact(self.settings, on_wait=on_wait)
        self.store.close()
        self.store.wrote()  # other processes reopen the index: its collections are new ones
        return report

    def migrate(
        self, *, on_wait: WaitCallback | None = None, on_page: Callable[[int, int], None] | None = None
    ) -> MigrationReport:
        """Convert an index written by an older newsqa to the current layout, in place, keeping every vector."""
        self.store.close()
        report = migrate(self.settings, self.embedder.name, on_wait=on_wait, on_page=on_page)
        self.store.close()  # reopened on next use, in the new layout
        return report

    # --- answering ------------------------------------------------------------------------------

    def using(self, **overrides: object) -> Assistant:
        """This assistant with some settings changed (e.g. `ollama_model`), sharing its index and encoder."""
        settings = self.settings.model_copy(update=overrides)
        twin = Assistant(settings, llm=self._llm, store=self.store, embedder=self.embedder, reader=self.reader)
        twin.retriever = self.retriever
        return twin

    def ollama_models(self) -> list[str]:
        """The models the configured Ollama server has; BackendError (with the fix) when it does not answer."""
        return OllamaLLM(self.settings.ollama_host, "", self.settings.ollama_probe_timeout).models()

    def rewrite(self, question: str, history: Sequence[str]) -> str:
        """A follow-up made standalone from the earlier questions (see `qa.retrieval.followup`)."""
        return standalone_question(question, history)

    def backend(self, name: str | None = None) -> BackendChoice:
        if self._llm is not None and name is None:
            return BackendChoice(self._llm, None)
        return choose_backend(self.settings, name)

    def resolve_mode(self, mode: str | None = None, backend: str | None = None) -> tuple[str, BackendChoice | None]:
        """'generate' with the model that drafts, or 'extract' with none; 'auto' decides which."""
        resolved, choice, _ = self._resolve(mode, backend)
        return resolved, choice

    def _resolve(
        self, mode: str | None, backend: str | None, choice: BackendChoice | None = None
    ) -> tuple[str, BackendChoice | None, str | None]:
        """The mode, the backend that drafts (None in extract mode), and the note on the backend chosen."""
        mode = mode or self.settings.mode
        if mode not in ("auto", "generate", "extract"):
            raise QAError(f"mode must be 'auto', 'generate' or 'extract', got {mode!r}")
        if mode != "extract":
            choice = choice or self.backend(backend)
        if mode == "auto":
            mode = "extract" if choice and _is_bundled_base_model(choice.llm, self.settings) else "generate"
        # The note stays when 'auto' chose extract mode: the reader still learns why Ollama is not answering.
        return mode, choice if mode == "generate" else None, choice.note if choice else None

    def retrieve(
        self, question: str, *, top_k: int | None = None, date_from: str | None = None, date_to: str | None = None
    ) -> list[Passage]:
        question = check_question(question)
        top_k = check_top_k(top_k)
        if self.retriever.is_empty():
            raise IndexEmptyError(
                f"The index at {self.store.location} is empty; add articles with `qa ingest PATH` first"
            )
        return self.retriever.retrieve(question, top_k=top_k, date_from=date_from, date_to=date_to)

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        backend: str | None = None,
        on_token: Callable[[str], None] | None = None,
        choices: Sequence[str] | None = None,
        mode: str | None = None,
        history: Sequence[str] | None = None,
    ) -> Answer:
        """Answer from the indexed articles only, citing passages as [n]; refuse when they do not tell.

        With `choices`, the answer is the option the passages state (`Answer.choice`), cited to the passage
        that states it; no model is asked, so the choice is as good as the retrieval.

        With `history` (the earlier questions of a conversation, oldest first), a follow-up such as "and how
        many did Norway send?" is rewritten into a standalone question before retrieval; the rewrite is in
        `Answer.standalone_question`.
        """
        check_question(question)  # here too: a follow-up is rewritten before `retrieve` checks it
        top_k = check_top_k(top_k)
        asked = question
        if history is not None and (isinstance(history, str) or not all(isinstance(h, str) for h in history)):
            raise InputError(f"history must be a list of the earlier questions (str), got {history!r:.80}")
        if history:
            question = self.rewrite(question, history)
        answer = self._ask(
            question,
            top_k=top_k,
            date_from=date_from,
            date_to=date_to,
            backend=backend,
            on_token=on_token,
            choices=choices,
            mode=mode,
        )
        if history and question != " ".join(asked.split()):
            answer.question, answer.standalone_question = asked, question
        return answer

    def _ask(
        self,
        question: str,
        *,
        top_k: int | None,
        date_from: str | None,
        date_to: str | None,
        backend: str | None,
        on_token: Callable[[str], None] | None,
        choices: Sequence[str] | None,
        mode: str | None,
    ) -> Answer:
        if choices is not None:
            return self._choose(question, choices, top_k=top_k, date_from=date_from, date_to=date_to)
        started = time.perf_counter()
        passages = self.retrieve(question, top_k=top_k, date_from=date_from, date_to=date_to)
        retrieved = time.perf_counter()
        requested = mode
        mode, choice, note = self._resolve(requested, backend)

        best = max((p.score for p in passages), default=-1.0)
        answer_started: float | None = None
        draft = None
        if best >= self.settings.min_relevance and choice is not None:
            pieces: list[str] = []
            try:
                try:
                    answer_started = self._draft(choice, question, passages, pieces, on_token)
                except BackendError as exc:
                    if not choice.automatic or pieces or isinstance(exc, ModelStoppedError):
                        raise
                    # 'auto' picked Ollama, and it failed before saying anything: answer with the embedded model.
                    mode, choice, note = self._resolve(requested, backend, fallback(self.settings, exc))
                    pieces.clear()
                    if choice is not None:
                        answer_started = self._draft(choice, question, passages, pieces, on_token)
            except ModelStoppedError as exc:
                if (requested or self.settings.mode) != "auto":
                    raise
                # The embedded model's worker crashed or hung: 'auto' quotes the evidence instead, and says why.
                mode, choice, answer_started = "extract", None, None
                note = f"{str(exc).rstrip('.')}; quoting the passages."
            if choice is not None:
                draft = drop_invalid(" ".join("".join(pieces).split()), len(passages))
        name, model = (choice.llm.backend, choice.llm.model) if choice else ("none", "none")
        if best < self.settings.min_relevance:
            # Nothing close enough: asking the model would only invite it to make something up.
            answer = refusal(question, passages, backend=name, model=model)
            answer.mode = mode
        else:
            grounded = ground(
                question,
                passages,
                self.embedder,
                self.reader,
                draft=draft,
                min_evidence=self._min_evidence(),
                min_support=self.settings.min_support,
                min_short_margin=self.settings.min_short_margin,
                mix=shipped_mix() if self.settings.ranking == "reader" else None,
            )
            answer = grounded_answer(question, grounded, passages, backend=name, model=model)
        finished = time.perf_counter()
        answer.note = note
        answer.timings_ms.retrieve = round((retrieved - started) * 1000, 1)
        answer.timings_ms.generate = round((finished - retrieved) * 1000, 1)
        answer.timings_ms.total = round((finished - started) * 1000, 1)
        if answer_started is not None:
            answer.timings_ms.first_token = round((answer_started - started) * 1000, 1)
        return answer

    def _min_evidence(self) -> float:
        """What the best evidence sentence must score for the articles to answer, on the ranking in use."""
        if self.settings.ranking == "rules":
            return self.settings.min_evidence
        if self.settings.min_answer_score is not None:
            return self.settings.min_answer_score
        return shipped_mix().threshold

    def _draft(
        self,
        choice: BackendChoice,
        question: str,
        passages: Sequence[Passage],
        pieces: list[str],
        on_token: Callable[[str], None] | None,
    ) -> float | None:
        """Stream the model's draft into `pieces`; the time of its first piece."""
        first: float | None = None
        for piece in choice.llm.stream(answer_prompt(question, passages), max_tokens=self.settings.max_answer_tokens):
            if first is None:
                first = time.perf_counter()
            pieces.append(piece)
            if on_token:
                on_token(piece)
        return first

    def _choose(
        self, question: str, choices: Sequence[str], *, top_k: int | None, date_from: str | None, date_to: str | None
    ) -> Answer:
        options = [" ".join(str(c).split()) for c in choices]
        if len(options) < 2 or not all(options):
            raise QAError(f"A multiple-choice question needs at least two non-empty choices, got {list(choices)!r}")
        started = time.perf_counter()
        passages = self.choice_passages(question, options, top_k=top_k, date_from=date_from, date_to=date_to)
        chosen = pick(question, options, passages)
        answer = chosen_answer(
            question,
            options,
            chosen.index if chosen else None,
            chosen.passage if chosen else None,
            passages,
            backend="choices",
            model="passage-support",
        )
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        answer.timings_ms.retrieve = answer.timings_ms.total = elapsed
        return answer

    def choice_passages(
        self,
        question: str,
        options: Sequence[str],
        *,
        top_k: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[Passage]:
        """The passages a multiple-choice question is answered from: found for the question and for the question
        with each option, so a passage naming an option is found even when the question alone ranks it low."""
        queries = [question] + [f"{question} {o}" for o in options if not is_none_of_the_above(o)]
        merged: dict[str, Passage] = {}
        told: dict[str, str] = {}  # story -> the article it is given by: copies found by another query stay out
        for query in queries:
            for passage in self.retrieve(query, top_k=top_k, date_from=date_from, date_to=date_to):
                if passage.story and told.setdefault(passage.story, passage.doc_id) != passage.doc_id:
                    continue
                merged.setdefault(passage.chunk_id, passage)
        return renumber(list(merged.values()))

    def status(self, *, probe_backend: bool = True) -> Status:
        if probe_backend:
            choice = self.backend()
            backend, model, note = choice.llm.backend, choice.llm.model, choice.note
        else:
            backend, model, note = self.settings.backend, "", None
        return Status(
            index=self.store.location,
            server=self.settings.chroma_url is not None,
            collection=self.settings.collection,
            articles=self.store.count_articles(),
            stories=self.store.count_stories(),
            chunks=self.store.count_chunks(),
            embedding_model=self.embedder.name,
            backend=backend,
            model=model,
            note=note,
        )


def _is_bundled_base_model(llm: LLM, settings: Settings) -> bool:
    return llm.backend == "embedded" and settings.embedded_model_path is None
