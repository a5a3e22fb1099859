"""Checks of the settings an HTTP destination hands to its client, made when the sync is
loaded: a base URL or a header the client cannot use is refused with its key path and the
fix, instead of failing every row of a run. No message shows a header value or a URL's
credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from engine.destinations.base import DestinationConfigError
from engine.secrets import mask_userinfo

SCHEMES = ("http", "https")
# RFC 9110 token characters: what a header name may consist of.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WHITESPACE = re.compile(r"\s")


def check_base_url(url: str, where: str) -> str:
    """``url`` if an HTTP client can send to it, else a DestinationConfigError at ``where``."""
    shown = mask_userinfo(url)
    example = "Fix: write it like https://api.example.com/v1"
    if _WHITESPACE.search(url):
        raise DestinationConfigError(
            f"{where}: the URL {shown!r} contains whitespace. Fix: remove it (a space inside "
            "a path is written %20)."
        )
    if _CONTROL.search(url):
        raise DestinationConfigError(
            f"{where}: the URL contains a control character. Fix: remove it."
        )
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        raise DestinationConfigError(
            f"{where}: the URL {shown!r} has no scheme (http:// or https://). {example}."
        )
    if parts.scheme.lower() not in SCHEMES:
        raise DestinationConfigError(
            f"{where}: the URL {shown!r} uses the scheme {parts.scheme!r}; only http and "
            f"https are supported. {example}."
        )
    if not parts.hostname:
        raise DestinationConfigError(f"{where}: the URL {shown!r} has no host. {example}.")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as error:
        raise DestinationConfigError(
            f"{where}: the URL {shown!r} is not valid ({mask_userinfo(str(error))}). {example}."
        ) from None
    return url


def check_header(name: str, value: str, where: str) -> None:
    """Refuse a header the client cannot send; ``where`` is the header's key path."""
    if not _HEADER_NAME.fullmatch(name):
        raise DestinationConfigError(
            f"{where}: {name!r} is not a valid header name (letters, digits and "
            "!#$%&'*+-.^_`|~ only; no spaces, colons or line breaks). Fix: correct the name."
        )
    check_header_value(value, where)


def check_header_value(value: str, where: str) -> None:
    """Refuse a value the client cannot send in a header (the value is never shown)."""
    if "\r" in value or "\n" in value:
        raise DestinationConfigError(
            f"{where}: the value contains a line break (CR or LF), which would end the header "
            "early. Fix: remove it (a value read from a file or an environment variable often "
            "ends with a newline)."
        )
    if _CONTROL.search(value):
        raise DestinationConfigError(
            f"{where}: the value contains a control character. Fix: remove it."
        )
    if _NON_ASCII.search(value):
        raise DestinationConfigError(
            f"{where}: the value contains a non-ASCII character, which HTTP headers cannot "
            "carry. Fix: remove it, or encode the value as the API documents."
        )
    if value != value.strip():
        raise DestinationConfigError(
            f"{where}: the value starts or ends with whitespace. Fix: remove it (a value "
            "read from a file or an environment variable often ends with a newline)."
        )


def check_headers(headers: Mapping[str, str], where: str) -> None:
    """Every header of a mapping (``where`` is the mapping's key path)."""
    for name, value in headers.items():
        check_header(name, value, f"{where}.{name}")


def check_credentials_once(url: str, headers: Mapping[str, str], url_where: str) -> None:
    """Refuse credentials in the URL beside an explicit ``Authorization`` header: the client
    would send one of them and drop the other."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return
    for name in headers:
        if name.lower() == "authorization":
            raise DestinationConfigError(
                f"{url_where}: the URL carries credentials (user:password@) and the headers "
                f"set {name} too; only one of them would be sent. Fix: keep one: drop the "
                f"user:password@ part, or the {name} header."
            )
