"""Connecting to BigQuery: a source's settings checked, its credentials loaded, and what the
client's errors mean, with the fix for those a user can cause.

Error reasons: https://cloud.google.com/bigquery/docs/error-messages
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dialects.errors import ErrorKind, WarehouseError

SCOPES = ("https://www.googleapis.com/auth/bigquery",)
_TRANSIENT_REASONS = frozenset({"rateLimitExceeded", "backendError", "jobBackendError"})
_TRANSIENT_REASONS |= {"internalError"}
_PERMISSION_REASONS = frozenset({"billingNotEnabled", "accessDenied"})
# The run's session is gone (aborted from outside, or expired): its temporary stage went with
# it, so this is the connection failing, not a row or the SQL. The first wording is the
# emulator's; real BigQuery's wordings need a real project to confirm.
_SESSION_GONE = ("invalid input session id", "session expired", "session has expired")
_SESSION_GONE += ("session was terminated", "session has been aborted")


def first_line(error: BaseException) -> str:
    """The first line of an error's text (the client's texts run on with URLs and ids)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def check_settings(settings: dict[str, Any]) -> None:
    """Refuse settings that cannot work, before anything is sent."""
    missing = [name for name in ("project", "location") if not settings.get(name)]
    if missing:
        raise WarehouseError(
            f"The BigQuery source needs {' and '.join(missing)}. Fix: set project (the "
            "project id) and location (the location of your datasets, e.g. US or "
            "europe-west1) under the source in lightning.yml.",
            ErrorKind.CONNECTION,
        )
    if settings.get("anonymous") and not settings.get("api_endpoint"):
        raise WarehouseError(
            "The BigQuery source sets anonymous: true without api_endpoint: sending no "
            "credentials only works with a local emulator. Fix: remove anonymous, or set "
            "api_endpoint to the emulator's address.",
            ErrorKind.CONNECTION,
        )
    cap = settings.get("maximum_bytes_billed")
    if cap is not None and (isinstance(cap, bool) or not str(cap).isdigit()):
        raise WarehouseError(
            f"The BigQuery source's maximum_bytes_billed is {cap!r}, not a number of bytes. "
            "Fix: set it to a whole number of bytes (e.g. 10000000000 for 10 GB), or remove "
            "it.",
            ErrorKind.CONNECTION,
        )


def credentials(settings: dict[str, Any], project_dir: Path) -> Any:
    """Anonymous (emulators), a service-account key file, or application-default
    credentials."""
    if settings.get("anonymous"):
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    raw = settings.get("credentials_path")
    if raw:
        from google.oauth2 import service_account

        path = Path(str(raw)).expanduser()
        path = path if path.is_absolute() else project_dir / path
        try:
            return service_account.Credentials.from_service_account_file(str(path), scopes=SCOPES)
        except (OSError, ValueError, KeyError) as error:
            raise WarehouseError(
                f"The BigQuery source's credentials_path {str(raw)!r} could not be read as a "
                f"service-account key: {first_line(error)}. Fix: point it at the JSON key "
                "file downloaded for the service account (IAM > Service accounts > Keys).",
                ErrorKind.CONNECTION,
                error,
            ) from error
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        found, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as error:
        raise WarehouseError(
            "The BigQuery source has no credentials_path and no application-default "
            f"credentials were found: {first_line(error)}. Fix: set credentials_path to a "
            "service-account JSON key, or run `gcloud auth application-default login`.",
            ErrorKind.CONNECTION,
            error,
        ) from error
    return found


def connect_error(error: BaseException, where: str) -> WarehouseError:
    """A failure to reach the project, as a permission or connection error with its fix."""
    kind = classify(error)
    if kind is ErrorKind.PERMISSION:
        fix = (
            "grant the service account roles/bigquery.user on the project and "
            "roles/bigquery.dataViewer on the models' datasets, and check that billing is "
            "enabled on the project"
        )
    else:
        kind = ErrorKind.CONNECTION
        fix = (
            "check project, credentials_path (or application-default credentials) and, "
            "for a private endpoint, api_endpoint, and that this machine can reach it"
        )
    return WarehouseError(
        f"Cannot connect to {where}: {first_line(error)}. Fix: {fix}.", kind, error
    )


def classify(error: BaseException) -> ErrorKind:
    """What an error from the client means for the run."""
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    if isinstance(error, auth_exceptions.GoogleAuthError):
        return ErrorKind.CONNECTION
    if isinstance(error, WarehouseError):
        return error.kind
    if not isinstance(error, exceptions.GoogleAPIError):
        import requests

        if isinstance(error, requests.exceptions.ConnectionError):
            return ErrorKind.CONNECTION
        return ErrorKind.TERMINAL
    reasons = {str(e.get("reason")) for e in getattr(error, "errors", None) or []}
    if any(gone in str(error).lower() for gone in _SESSION_GONE):
        return ErrorKind.CONNECTION
    if reasons & _TRANSIENT_REASONS:
        return ErrorKind.TRANSIENT
    if reasons & _PERMISSION_REASONS:
        return ErrorKind.PERMISSION
    if isinstance(error, exceptions.Unauthorized):
        return ErrorKind.CONNECTION
    if isinstance(error, exceptions.Forbidden):
        return ErrorKind.PERMISSION
    if isinstance(
        error,
        exceptions.TooManyRequests | exceptions.ServiceUnavailable | exceptions.InternalServerError,
    ):
        return ErrorKind.TRANSIENT
    if isinstance(error, exceptions.Conflict) and "concurrent" in str(error).lower():
        return ErrorKind.TRANSIENT
    if isinstance(error, exceptions.BadRequest | exceptions.NotFound | exceptions.Conflict):
        return ErrorKind.SQL
    return ErrorKind.TERMINAL


def wrapped(error: BaseException, context: str, project: str, location: str) -> WarehouseError:
    """BigQuery's own message (the client's text adds the HTTP status, job id and URL), with
    the fix where the cause is a setting."""
    reasons = getattr(error, "errors", None) or []
    text = str((reasons[0] or {}).get("message") or "") if reasons else ""
    text = text or str(getattr(error, "message", "") or "") or str(error)
    first = (text.strip().splitlines() or [type(error).__name__])[0]
    fix = ""
    if "was not found in location" in text:
        fix = (
            f" Fix: the source's location is {location}; every dataset a model reads "
            "must be in that location (set location to the datasets' location)."
        )
    elif "billing" in text.lower() and "enabled" in text.lower():
        fix = f" Fix: enable billing on project {project} (Billing > Link a billing account)."
    elif "bytes billed" in text.lower():
        fix = " Fix: raise maximum_bytes_billed under the source, or make the model scan less."
    return WarehouseError(f"{context}: {first}{fix}", classify(error), error)


def setup_statements(project: str, location: str, user: str, schemas: Sequence[str]) -> list[str]:
    """What ``lightning-sync init`` prints for an administrator: the project role that runs
    jobs, read access to the models' datasets, and the engine's datasets with write access."""
    member = f"serviceAccount:{user}"
    statements = [
        f"-- at the project (runs jobs): gcloud projects add-iam-policy-binding {project} "
        f"--member {member} --role roles/bigquery.user",
        "-- on each dataset the models read: GRANT `roles/bigquery.dataViewer` ON SCHEMA "
        f'`{project}.<dataset>` TO "{member}";',
    ]
    for schema in schemas:
        statements.append(
            f"CREATE SCHEMA IF NOT EXISTS `{project}.{schema}` OPTIONS (location = '{location}');"
        )
        statements.append(
            "GRANT `roles/bigquery.dataViewer`, `roles/bigquery.dataEditor` ON SCHEMA "
            f'`{project}.{schema}` TO "{member}";'
        )
    return statements
