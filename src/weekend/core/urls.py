"""Connection URLs in messages, logs and records: the password never appears."""

from __future__ import annotations

REDACTED = "***"
NOT_A_URL = "<not a URL: no ://>"


def redact_url(url: object, *, drop_userinfo: bool = False) -> str:
    """``url`` with the password of its user-info replaced by ``***``; never raises.

    ``drop_userinfo`` removes the user name too: what identifies a server in stored records.

    ``postgresql+psycopg://me:secret@db/x`` -> ``postgresql+psycopg://me:***@db/x``;
    ``redis://:secret@cache:6379/0`` -> ``redis://:***@cache:6379/0``. A URL without user-info
    comes back unchanged. Text without ``://`` is no URL: where a password sits in it cannot
    be told, so it is not shown at all (``<not a URL: no ://>``); a non-text value is ``<url>``.
    """
    if not isinstance(url, str):
        return "<url>"
    scheme, sep, rest = url.partition("://")
    if not sep:
        return NOT_A_URL
    # user-info ends at the last '@' before the path: passwords may hold '@', '/' and ':'
    path_at = rest.find("/", rest.rfind("@") + 1)
    authority, tail = (rest, "") if path_at < 0 else (rest[:path_at], rest[path_at:])
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    if drop_userinfo:
        return f"{scheme}://{host}{tail}"
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':' + REDACTED if colon else ''}@{host}{tail}"


__all__ = ["NOT_A_URL", "REDACTED", "redact_url"]
