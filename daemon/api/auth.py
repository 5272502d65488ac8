"""Bearer-token authentication for the control API.

The token comes from a file (a mounted Secret), re-read when the file changes so a
rotated Secret takes effect without a restart, and is compared in constant time.
"""

from __future__ import annotations

import hmac
import threading
from pathlib import Path


class TokenAuth:
    def __init__(self, token_file: Path | None):
        self.token_file = token_file
        self._lock = threading.Lock()
        self._cached: tuple[float, str] | None = None
        self.error = ""

    def _token(self) -> str | None:
        if self.token_file is None:
            self.error = "no token configured (settings api.token_file)"
            return None
        try:
            mtime = self.token_file.stat().st_mtime
            with self._lock:
                if self._cached is None or self._cached[0] != mtime:
                    token = self.token_file.read_text(encoding="utf-8").strip()
                    self._cached = (mtime, token)
                token = self._cached[1]
        except OSError as exc:
            self.error = f"token file {self.token_file} unreadable: {exc.strerror}"
            return None
        if len(token) < 16:
            self.error = f"token in {self.token_file} is shorter than 16 characters; refused"
            return None
        self.error = ""
        return token

    def check(self, authorization: str | None) -> tuple[bool, str]:
        """(ok, why-not). Why-not never echoes what the client sent."""
        expected = self._token()
        if expected is None:
            return False, self.error
        if not authorization:
            return False, "missing bearer token"
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return False, "expected 'Authorization: Bearer <token>'"
        if not hmac.compare_digest(presented.strip().encode(), expected.encode()):
            return False, "invalid token"
        return True, ""
