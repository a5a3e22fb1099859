"""Settings of the ``contentstack`` destination: validated with pydantic, regions by name.

Destination block (``destinations.<name>``)::

    type: contentstack
    access_token: ${CONTENTSTACK_DAL_TOKEN}     # users: Data Activation Layer token
    api_base_url: https://api.lytics.io         # users: optional
    region: EU                                  # attributes: picks the Personalize hosts
    edge_api_base_url: ...                      # attributes: optional, overrides region
    management_api_base_url: ...                # attributes: optional, overrides region
    project_uid: ...                            # attributes: the Personalize project
    auth_token: ${CONTENTSTACK_AUTHTOKEN}       # attributes: user authtoken (or oauth_token)

Sync block (``syncs.<name>.contentstack``): ``type`` (users | attributes), ``match``,
``audiences``, ``method``, ``concurrency``, ``rate_limit_per_second``,
``create_missing_attributes``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.config import SyncConfig
from engine.destinations.base import DestinationConfigError
from engine.secrets import mask_userinfo

DEFAULT_API_BASE_URL = "https://api.lytics.io"
EDGE_HOST = "personalize-edge.contentstack.com"
MANAGEMENT_HOST = "personalize-api.contentstack.com"

#: Region name -> host prefix of the Personalize Edge and Management APIs.
REGIONS: dict[str, str] = {
    "NA": "",
    "EU": "eu-",
    "AZURE-NA": "azure-na-",
    "AZURE-EU": "azure-eu-",
    "GCP-NA": "gcp-na-",
    "GCP-EU": "gcp-eu-",
    "AU": "au-",
}
REGION_ALIASES = {"US": "NA", "AWS-NA": "NA", "AWS-EU": "EU", "AWS-AU": "AU"}

UserMatchKey = Literal["external_id", "email", "email_sha256"]
USER_MATCH_KEYS: tuple[str, ...] = ("external_id", "email", "email_sha256")
AUDIENCES_FIELD = "external_audiences"

TOKEN_HELP_DAL = (
    "create a new access token in Contentstack: Data & Insights -> Account -> Access "
    "Tokens, with the role Data Manager (under Custom Roles)"
)
TOKEN_HELP_MANAGEMENT = (
    "get a new user authtoken (the Content Management API's POST /v3/user-session returns "
    "user.authtoken; a stack management token is not accepted by Personalize), or use an "
    "OAuth token with the personalize:manage scope as oauth_token"
)


def region_key(name: str) -> str:
    """A region name as written by a user ("azure eu", "Azure_EU") in canonical form."""
    key = re.sub(r"[\s_]+", "-", name.strip()).upper()
    return REGION_ALIASES.get(key, key)


def region_urls(name: str) -> tuple[str, str]:
    """(Edge API base URL, Management API base URL) of a region."""
    prefix = REGIONS[region_key(name)]
    return f"https://{prefix}{EDGE_HOST}", f"https://{prefix}{MANAGEMENT_HOST}"


def _base_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(
            f"{mask_userinfo(value)!r} is not an http(s) URL. Fix: write it like https://host"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ContentstackDestinationSettings(_Strict):
    """The destination's own settings (see module doc)."""

    access_token: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    region: str = "NA"
    edge_api_base_url: str | None = None
    management_api_base_url: str | None = None
    project_uid: str | None = None
    auth_token: str | None = None
    oauth_token: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    management_rate_limit_per_second: float = Field(default=10.0, gt=0, le=10)

    @field_validator("api_base_url", "edge_api_base_url", "management_api_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _base_url(value)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        key = region_key(value)
        if key not in REGIONS:
            raise ValueError(
                f"unknown region {value!r}. Fix: use one of {', '.join(REGIONS)} (or set "
                "edge_api_base_url and management_api_base_url)"
            )
        return key

    @field_validator("access_token")
    @classmethod
    def _dal_token(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value.lower().startswith("bearer "):
            raise ValueError(
                "the Data Activation Layer API takes the token without a 'Bearer ' prefix. "
                "Fix: remove 'Bearer ' from the value"
            )
        if not value:
            raise ValueError("is empty. Fix: set it, e.g. access_token: ${CONTENTSTACK_DAL_TOKEN}")
        return value

    @field_validator("project_uid", "auth_token", "oauth_token")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty. Fix: set a value or remove the key")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _one_management_token(self) -> ContentstackDestinationSettings:
        if self.auth_token and self.oauth_token:
            raise ValueError(
                "auth_token and oauth_token are both set. Fix: keep one (auth_token is sent "
                "as the authtoken header, oauth_token as Authorization: Bearer)"
            )
        return self

    def edge_url(self) -> str:
        """The Personalize Edge API base URL (explicit, else the region's)."""
        return self.edge_api_base_url or region_urls(self.region)[0]

    def management_url(self) -> str:
        """The Personalize Management API base URL (explicit, else the region's)."""
        return self.management_api_base_url or region_urls(self.region)[1]


class MatchSpec(_Strict):
    """``match: {from: <model column>, to: <identifier>}``."""

    from_: str = Field(alias="from", min_length=1)
    to: str | None = None


class AudiencesSpec(_Strict):
    """``audiences: {from: <column holding a list of audience IDs>}``."""

    from_: str = Field(alias="from", min_length=1)


class ContentstackSyncSettings(_Strict):
    """The ``contentstack:`` block of a sync (see module doc)."""

    type: Literal["users", "attributes"] = "users"
    match: MatchSpec
    audiences: AudiencesSpec | list[str] | None = None
    method: Literal["PATCH", "PUT"] = "PATCH"
    concurrency: int = Field(default=8, ge=1, le=256)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    create_missing_attributes: bool = True

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("match", mode="before")
    @classmethod
    def _match_shape(cls, value: Any) -> Any:
        if not isinstance(value, dict | MatchSpec):
            raise ValueError(
                f"{value!r} is not a mapping. Fix: write match: {{from: <model column>, to: "
                "<identifier>}, e.g. {from: email, to: email_sha256}"
            )
        return value

    @field_validator("audiences", mode="before")
    @classmethod
    def _audiences_shape(cls, value: Any) -> Any:
        fix = (
            "Fix: write audiences: {from: <column holding a list of audience IDs>} or a list "
            "of IDs, e.g. audiences: [65f1c2e3d4b5a69788796a5b]"
        )
        if value is None or isinstance(value, AudiencesSpec):
            return value
        if isinstance(value, dict):
            if set(value) != {"from"} or not isinstance(value["from"], str) or not value["from"]:
                raise ValueError(f"{value!r} is not a column reference. {fix}")
            return AudiencesSpec.model_validate(value)
        if isinstance(value, list):
            for index, item in enumerate(value):
                if not isinstance(item, str | int) or not str(item).strip():
                    raise ValueError(f"item {index} ({item!r}) is not an audience ID. {fix}")
            return [str(item).strip() for item in value]
        raise ValueError(f"{value!r} is neither a column reference nor a list. {fix}")

    @model_validator(mode="after")
    def _per_type(self) -> ContentstackSyncSettings:
        given = self.model_fields_set
        if self.type == "users":
            if self.match.to not in USER_MATCH_KEYS:
                shown = "missing" if self.match.to is None else repr(self.match.to)
                raise ValueError(
                    f"match.to is {shown}. Fix: set match.to to one of "
                    f"{', '.join(USER_MATCH_KEYS)} (the Contentstack identifier the column holds)"
                )
            if "create_missing_attributes" in given:
                raise ValueError(
                    "create_missing_attributes applies to type: attributes only. Fix: remove it"
                )
        else:
            if self.match.to not in (None, "user_uid"):
                raise ValueError(
                    f"match.to is {self.match.to!r}, but a Personalize user is addressed by its "
                    "user UID. Fix: set match.to to user_uid (or leave it out) and match.from to "
                    "the column holding the Personalize user UID"
                )
            for key in ("audiences", "method"):
                if key in given:
                    raise ValueError(
                        f"{key} applies to type: users only (the Data Activation Layer). "
                        "Fix: remove it, or use type: users"
                    )
        return self


def settings_error(error: ValidationError, where: str) -> DestinationConfigError:
    """A config error naming every invalid key path and the fix."""
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        loc = loc.replace("from_", "from")
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; see the Contentstack section of the README)"
        elif item["type"] == "missing":
            message = "required key is missing. Fix: add it"
        parts.append(f"{where}.{loc}: {message}" if loc else f"{where}: {message}")
    return DestinationConfigError("; ".join(parts))


MODES: dict[str, tuple[str, ...]] = {"users": ("update", "upsert"), "attributes": ("upsert",)}


def sync_settings(sync: SyncConfig, sync_name: str) -> ContentstackSyncSettings:
    """The sync's validated ``contentstack:`` block."""
    block = sync.extra_settings("contentstack")
    if not block:
        raise DestinationConfigError(
            f"syncs.{sync_name}.contentstack: missing. Fix: add a contentstack: block with at "
            "least type (users or attributes) and match, e.g. contentstack: {type: users, "
            "match: {from: email, to: email}}."
        )
    try:
        return ContentstackSyncSettings.model_validate(block)
    except ValidationError as error:
        raise settings_error(error, f"syncs.{sync_name}.contentstack") from error


def check_mode(sync: SyncConfig, sync_name: str) -> None:
    """Refuse a mode the sync's type does not support."""
    kind = sync_settings(sync, sync_name).type
    modes = MODES[kind]
    if sync.mode in modes:
        return
    why = (
        "the Personalize Edge API creates or updates a user's attributes; it has no "
        "update-only write and no removal"
        if kind == "attributes"
        else "the Data Activation Layer path writes profile attributes; it does not remove profiles"
    )
    raise DestinationConfigError(
        f"syncs.{sync_name}.mode: the contentstack destination (type: {kind}) does not "
        f"support mode {sync.mode!r}: {why}. Fix: use {' or '.join(modes)}."
    )


def check_required(
    settings: ContentstackDestinationSettings,
    sync_block: ContentstackSyncSettings,
    sync: SyncConfig,
    sync_name: str,
) -> None:
    """Refuse a sync missing what its type needs (a token, a project, something to send)."""
    where = f"destinations.{sync.destination}"
    block = f"syncs.{sync_name}.contentstack"
    targets = [m.to for m in sync.mappings]
    if sync_block.type == "users":
        if not settings.access_token:
            raise DestinationConfigError(
                f"{where}.access_token: missing; sync {sync_name!r} (type: users) writes "
                "through the Data Activation Layer API. Fix: add access_token: "
                f"${{CONTENTSTACK_DAL_TOKEN}} ({TOKEN_HELP_DAL})."
            )
        if AUDIENCES_FIELD in targets and sync_block.audiences is not None:
            raise DestinationConfigError(
                f"syncs.{sync_name}.mappings: {AUDIENCES_FIELD} is both mapped and set by "
                f"{block}.audiences. Fix: keep one."
            )
        if not targets and sync_block.audiences is None:
            raise DestinationConfigError(
                f"syncs.{sync_name}.mappings: nothing to send. Fix: map columns to "
                f"attributes or set {block}.audiences."
            )
        return
    if not settings.project_uid:
        raise DestinationConfigError(
            f"{where}.project_uid: missing; sync {sync_name!r} (type: attributes) writes to a "
            "Personalize project. Fix: add project_uid: <your project's UID> (Personalize -> "
            "your project -> Settings)."
        )
    if not (settings.auth_token or settings.oauth_token):
        raise DestinationConfigError(
            f"{where}.auth_token: missing; sync {sync_name!r} (type: attributes) reads and "
            "creates custom attributes on the Personalize Management API. Fix: add "
            f"auth_token: ${{CONTENTSTACK_AUTHTOKEN}} ({TOKEN_HELP_MANAGEMENT})."
        )
    if not targets:
        raise DestinationConfigError(
            f"syncs.{sync_name}.mappings: nothing to send. Fix: map columns to Personalize "
            "custom attributes."
        )
