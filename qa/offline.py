"""Nothing but loopback: the switches that keep the libraries we load from calling home.

Set when `qa` is imported, before any of those libraries is: onnxruntime reads its switch once, when its native
library loads (set later, it has no effect: its POSIX telemetry still looked up its collector's host after a few
hundred inferences), and `disable_telemetry_events()` alone does not stop that telemetry in onnxruntime 1.32. The
values are forced, not defaults: the assistant promises never to contact anything but loopback.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from typing import Any

FORCED_ENVIRONMENT = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime's 1DS telemetry (mobile.events.data.microsoft.com)
    "HF_HUB_OFFLINE": "1",  # models come from packages, never from the Hugging Face hub
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb's product telemetry (the client settings say so too)
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
}

log = logging.getLogger(__name__)


def stay_offline() -> None:
    """Force the switches; warn when onnxruntime was loaded before us without its own."""
    if "onnxruntime" in sys.modules and os.environ.get("ORT_DISABLE_TELEMETRY") != "1":
        log.warning(
            "onnxruntime was imported before qa without ORT_DISABLE_TELEMETRY=1, so its telemetry may stay on; "
            "import qa first or set ORT_DISABLE_TELEMETRY=1 in the environment"
        )
    os.environ.update(FORCED_ENVIRONMENT)


stay_offline()


def onnxruntime_offline() -> Any:
    """onnxruntime with its telemetry events off: what every place that makes a session imports."""
    import onnxruntime

    onnxruntime.disable_telemetry_events()
    return onnxruntime


LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name other than localhost may resolve to any address
        return False
