"""The `notify` settings group: where run results go, and the daily digest.

Secret-bearing values (Slack webhook URLs, HMAC keys) should come from files (`url_file`,
`secret_file`) or the environment (`url_env`), re-read on every delivery so a rotated Secret
takes effect without a restart. An inline `url` is a `SecretStr`: redacted in every dump.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from daemon.durations import PositiveDuration
from daemon.outcomes import Outcome
from daemon.timezones import check_timezone

SinkType = Literal["slack", "webhook", "cloudevents"]
DEFAULT_OUTCOMES = (Outcome.DEVIATED, Outcome.FAILED, Outcome.ABORTED, Outcome.NOT_STEADY)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
SinkName = Annotated[str, Field(min_length=1, max_length=63, pattern=_NAME.pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _outcomes(value: Any) -> Any:
    """`all`, one outcome, a comma list or a list; unknown names fail with the accepted ones."""
    if value in ("all", ["all"]):
        return list(Outcome)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return value


class SinkSettings(_Model):
    name: SinkName
    type: SinkType
    url: SecretStr | None = None  # only for URLs that are not secret (an internal webhook)
    url_file: Path | None = None
    url_env: str | None = None
    secret_file: Path | None = None  # webhook/cloudevents: sign the body with HMAC-SHA256
    secret_env: str | None = None
    outcomes: list[Outcome] = Field(default_factory=lambda: list(DEFAULT_OUTCOMES))
    experiments: list[str] = Field(default_factory=lambda: ["*"])  # id globs
    tags: list[str] = Field(default_factory=list)  # any of; empty: no tag filter
    include_dry_run: bool = True
    timeout: PositiveDuration = timedelta(seconds=5)  # per request
    max_tries: Annotated[int, Field(ge=1, le=20)] = 5
    backoff: PositiveDuration = timedelta(seconds=1)  # doubled per try, capped by max_backoff
    max_backoff: PositiveDuration = timedelta(seconds=60)
    queue_size: Annotated[int, Field(ge=1, le=10_000)] = 100

    @field_validator("outcomes", mode="before")
    @classmethod
    def _outcome_words(cls, value: Any) -> Any:
        return _outcomes(value)

    @model_validator(mode="after")
    def _one_url(self) -> SinkSettings:
        given = [k for k in ("url", "url_file", "url_env") if getattr(self, k) is not None]
        if len(given) != 1:
            named = " and ".join(given) if given else "none"
            raise ValueError(
                f"sink {self.name!r} needs exactly one of url, url_file or url_env (got {named})"
            )
        if self.secret_file is not None and self.secret_env is not None:
            raise ValueError(f"sink {self.name!r}: give secret_file or secret_env, not both")
        if self.type == "slack" and (self.secret_file or self.secret_env):
            raise ValueError(
                f"sink {self.name!r}: slack webhooks are not signed; secret_file/secret_env "
                "apply to webhook and cloudevents sinks"
            )
        return self

    def wants(self, experiment: str, tags: tuple[str, ...], outcome: str, dry_run: bool) -> bool:
        """This sink's own filters (the experiment's `notify` key is applied by the caller)."""
        if outcome not in self.outcomes or (dry_run and not self.include_dry_run):
            return False
        if not any(fnmatch.fnmatchcase(experiment, glob) for glob in self.experiments):
            return False
        return not self.tags or any(tag in self.tags for tag in tags)

    def target(self) -> str:
        """Where it goes, safe to show: only the source of a secret URL, never the URL."""
        if self.url_file is not None:
            return f"url_file {self.url_file}"
        if self.url_env is not None:
            return f"url_env {self.url_env}"
        return "url (redacted)"


class DigestSettings(_Model):
    sink: SinkName
    at: str = "09:00"  # local time of day in `timezone`
    timezone: str = "UTC"
    max_experiments: Annotated[int, Field(ge=1, le=1000)] = 50  # a bounded message

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value.strip()):
            raise ValueError(f"{value!r} is not a time of day like 09:00")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @property
    def hour_minute(self) -> tuple[int, int]:
        hours, minutes = self.at.split(":")
        return int(hours), int(minutes)


class NotifySettings(_Model):
    public_url: str | None = None  # the status page as users reach it; links to run pages
    sinks: list[SinkSettings] = Field(default_factory=list)
    digest: DigestSettings | None = None

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("sinks")
    @classmethod
    def _unique(cls, value: list[SinkSettings]) -> list[SinkSettings]:
        names = [s.name for s in value]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"sink names must be unique: {', '.join(doubled)} given twice")
        return value

    @field_validator("digest")
    @classmethod
    def _digest_sink(
        cls, value: DigestSettings | None, info: ValidationInfo
    ) -> DigestSettings | None:
        names = [s.name for s in info.data.get("sinks") or []]
        if value is not None and value.sink not in names:
            raise ValueError(
                f"digest.sink {value.sink!r} is not a configured sink "
                f"(sinks: {', '.join(names) or 'none'})"
            )
        return value

    def sink(self, name: str) -> SinkSettings | None:
        return next((s for s in self.sinks if s.name == name), None)
