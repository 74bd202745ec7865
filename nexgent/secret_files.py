"""A secret kept in a file of its own on the embedded default (the settings' SECRET_KEY, the
keystore's wallet master key): made on first use, mode 0600, and the same for every process
that starts at the same moment. No Django import: the settings use it."""

import os
import secrets
from pathlib import Path


def secret_file_read_or_create(path: Path) -> tuple[str, bool]:
    """The secret in `path`, and whether this call created it (a new random value)."""
    created = False
    if not path.exists():
        created = _create(path)
    return path.read_text().strip(), created


def _create(path: Path) -> bool:
    """Written to a file of its own first and linked into place, so a process starting at the
    same moment reads either no file or the whole secret, and the first link wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.link(staging, path)
    except FileExistsError:
        return False  # another process created it first: that one is the secret
    finally:
        staging.unlink(missing_ok=True)
    return True
