"""Who may use the web UI: anyone on this machine when it listens on loopback, only with the password otherwise.

Every tab can write (upload, delete, run the evals), so a UI reachable from other machines must not be open.
"""

from __future__ import annotations

import ipaddress

from qa import ConfigError, Settings

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


def ui_auth(settings: Settings, host: str) -> tuple[str, str] | None:
    """The (user, password) the UI asks for, or None to stay open; refuses an open UI off loopback."""
    password = settings.ui_password.get_secret_value() if settings.ui_password else ""
    if password:
        return settings.ui_user, password
    if is_loopback(host):
        return None
    raise ConfigError(open_off_loopback(host))


def open_off_loopback(host: str) -> str:
    return (
        f"The web UI would listen on {host!r}, reachable from other machines, with no password: set QA_UI_PASSWORD "
        "(and QA_UI_USER, default 'newsqa') to require a login, or listen on loopback only (QA_UI_HOST=127.0.0.1 "
        "or --host 127.0.0.1)"
    )
