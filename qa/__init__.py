"""Local question answering over news articles, with cited passages and honest refusals.

The public API: everything the CLI, the UI and the eval harness use is imported from here.
"""

# First, before any library that could call home is imported (see qa/offline.py).
import qa.offline  # noqa: F401

# isort: split

from qa.assistant import Assistant, Status
from qa.chunks import Passage
from qa.errors import (
    BackendError,
    ChromaUnreachableError,
    ConfigError,
    DocumentError,
    IndexBusyError,
    IndexEmptyError,
    IndexFormatError,
    IndexMismatchError,
    InputError,
    ModelNotInstalledError,
    ModelStoppedError,
    QAError,
    StoreError,
)
from qa.evals import EvalCase, EvalRun, compare_runs, evaluate, load_cases, write_report
from qa.generation.backends import LLM, EmbeddedLLM, OllamaLLM
from qa.generation.prompts import CANNOT_ANSWER
from qa.grounding.answer import Answer, Citation, ShortAnswer, Timings
from qa.index.doctor import DoctorReport, Problem
from qa.index.embeddings import Embedder, SentenceTransformerEmbedder
from qa.index.layout import ArticleRecord
from qa.ingest.documents import Article
from qa.ingest.report import FailedFile, IngestReport, Progress
from qa.ingest.uploads import Upload, UploadResult, check_upload, ingest_upload, keep_upload, upload_summary
from qa.retrieval.followup import standalone_question
from qa.settings import Settings, SettingsWarning

__all__ = [
    "CANNOT_ANSWER",
    "LLM",
    "Answer",
    "Article",
    "ArticleRecord",
    "Assistant",
    "BackendError",
    "ChromaUnreachableError",
    "Citation",
    "ConfigError",
    "DoctorReport",
    "DocumentError",
    "EmbeddedLLM",
    "Embedder",
    "EvalCase",
    "EvalRun",
    "FailedFile",
    "IndexBusyError",
    "IndexEmptyError",
    "IndexFormatError",
    "IndexMismatchError",
    "IngestReport",
    "InputError",
    "ModelNotInstalledError",
    "ModelStoppedError",
    "OllamaLLM",
    "Passage",
    "Problem",
    "Progress",
    "QAError",
    "SentenceTransformerEmbedder",
    "Settings",
    "SettingsWarning",
    "ShortAnswer",
    "Status",
    "StoreError",
    "Timings",
    "Upload",
    "UploadResult",
    "check_upload",
    "compare_runs",
    "evaluate",
    "ingest_upload",
    "keep_upload",
    "load_cases",
    "standalone_question",
    "upload_summary",
    "write_report",
]
