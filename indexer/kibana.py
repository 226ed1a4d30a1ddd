"""Kibana saved objects for the audit indices and their import through Kibana's HTTP API.

``indexer/kibana/*.ndjson`` holds what an admin would otherwise click together (exported format, so
it can also be imported by hand in Stack Management > Saved objects):

- data view ``audit-*`` (time field ``@timestamp``, seed labels: Source, Type, Worker, Changed, Raw);
- saved search "Audit log" with the seed's columns, newest first;
- dashboard "Audit log" showing that search.

``import_objects`` sends them with ``POST /api/saved_objects/_import?overwrite=true`` (multipart field
``file``, header ``kbn-xsrf``), the same request Kibana's UI makes, so re-running it replaces our
objects instead of duplicating them. For a namespace other than ``audit`` the data view's pattern
becomes ``<prefix>-*`` and the ids ``auditlog-<prefix>-...`` (:func:`object_id`), so namespaces share
a space. Only the standard library is used: Kibana is optional and talks plain HTTP.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditlog.indexer.client import api_key_problem, host_problem, safe_url, shown_url
from auditlog.indexer.tiers import DEFAULT_PREFIX, TierTable

OBJECTS_DIR = Path(__file__).resolve().parent / "kibana"


#: the most of an import answer read (one entry per object, a few hundred bytes each)
ANSWER_LIMIT = 16 * 1024 * 1024


class KibanaError(Exception):
    """Kibana could not be reached or refused the import; the message says what to fix."""


@dataclass(frozen=True)
class KibanaSettings:
    """Where Kibana listens and how to authenticate (an Elasticsearch API key or user/password)."""

    url: str
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    space: str | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"kibana url must start with http:// or https://: {shown_url(self.url)}")
        problem = _url_problem(self.url)
        if problem:
            raise ValueError(f"kibana url {problem}: {shown_url(self.url)}")
        if (self.username is None) != (self.password is None):
            raise ValueError("kibana username and password go together")
        # the key goes into a header as it is: anything but printable ASCII cannot be sent (never shown)
        if self.api_key is not None and (problem := api_key_problem(self.api_key)):
            raise ValueError(f"kibana api key {problem}")
        if self.username is not None and ":" in self.username:
            raise ValueError("kibana username must not contain ':' (basic auth separates user and password with it)")

    @property
    def import_url(self) -> str:
        """The import endpoint, in the given space if any."""
        space = f"/s/{quote(self.space, safe='')}" if self.space else ""
        return f"{self.url.rstrip('/')}{space}/api/saved_objects/_import?overwrite=true"


@dataclass(frozen=True)
class ImportResult:
    """Kibana's answer: how many objects were imported and their ids."""

    success_count: int
    ids: list[str]


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be requested, or None (pure): urllib would raise ``InvalidURL`` or ``ValueError``
    only when the import is sent, after everything else of ``setup`` was done."""
    if not url.isprintable():
        return "has control characters"
    if "@" in url.partition("://")[2].partition("/")[0]:
        return "must not hold credentials (use --kibana-user/--kibana-password or --kibana-api-key)"
    return host_problem(url)


def object_id(tiers: TierTable, base_id: str) -> str:
    """Return the saved-object id of one of our objects in a namespace.

    The default namespace keeps the ids of the files (``auditlog-data-view``...), so re-importing after
    an upgrade replaces the objects; another prefix gets ``auditlog-<prefix>-...``, so several namespaces'
    objects live side by side in one Kibana space.
    """
    if tiers.prefix == DEFAULT_PREFIX:
        return base_id
    return base_id.replace("auditlog-", f"auditlog-{tiers.prefix}-", 1)


def load_objects(tiers: TierTable, directory: Path = OBJECTS_DIR) -> list[dict[str, Any]]:
    """Read every saved object of ``directory/*.ndjson`` for a namespace.

    The data view points at the namespace's read pattern; ids and the references between the objects
    follow :func:`object_id`, and outside the default namespace titles name the prefix.

    Args:
        tiers: the namespace.
        directory: folder with the ndjson files.

    Returns:
        The saved objects, file by file in name order.
    """
    objects = []
    for path in sorted(directory.glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            attributes = obj["attributes"]
            if obj["type"] == "index-pattern":
                attributes["title"] = tiers.read_pattern
            obj["id"] = object_id(tiers, obj["id"])
            for ref in obj.get("references", []):
                ref["id"] = object_id(tiers, ref["id"])
            if tiers.prefix != DEFAULT_PREFIX:
                label = "name" if obj["type"] == "index-pattern" else "title"
                attributes[label] = f"{attributes[label]} ({tiers.prefix})"
            objects.append(obj)
    return objects


def _multipart(payload: bytes, filename: str) -> tuple[bytes, str]:
    boundary = f"auditlog-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _auth_header(settings: KibanaSettings) -> str | None:
    if settings.api_key:
        return f"ApiKey {settings.api_key}"
    if settings.username is not None and settings.password is not None:
        token = base64.b64encode(f"{settings.username}:{settings.password}".encode()).decode()
        return f"Basic {token}"
    return None


def _ssl_context(settings: KibanaSettings) -> ssl.SSLContext | None:
    if not settings.url.startswith("https://"):
        return None
    context = ssl.create_default_context(cafile=settings.ca_certs)
    if not settings.verify_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def import_objects(settings: KibanaSettings, objects: list[dict[str, Any]]) -> ImportResult:
    """Import saved objects into Kibana, overwriting earlier versions of the same ids.

    Args:
        settings: Kibana URL, credentials, space, TLS.
        objects: saved objects (``load_objects``).

    Returns:
        What Kibana imported.

    Raises:
        KibanaError: Kibana unreachable, credentials refused, or an object failed to import.
    """
    payload = "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objects).encode()
    body, content_type = _multipart(payload, "auditlog.ndjson")
    headers = {"kbn-xsrf": "auditlog", "Content-Type": content_type, "Accept": "application/json"}
    auth = _auth_header(settings)
    if auth:
        headers["Authorization"] = auth
    url = safe_url(settings.url)  # for messages
    request = urllib.request.Request(settings.import_url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout, context=_ssl_context(settings)) as response:
            raw = response.read(ANSWER_LIMIT + 1)
        if len(raw) > ANSWER_LIMIT:
            raise KibanaError(f"Kibana at {url} answered with more than {ANSWER_LIMIT:,} bytes; "
                              "is the URL Kibana's?")
        answer = json.loads(raw or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        if exc.code == 401:
            raise KibanaError(f"Kibana at {url} rejected the credentials (401)") from None
        if exc.code == 403:
            raise KibanaError(f"the Kibana user lacks the saved-objects privilege (403): {detail}") from None
        raise KibanaError(f"Kibana import failed with HTTP {exc.code}: {detail}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise KibanaError(f"Kibana at {url} answered with something that is not JSON") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)  # ValueError, InvalidURL: a URL urllib cannot request
        raise KibanaError(f"cannot reach Kibana at {url}: {reason}") from None
    try:
        return _import_result(answer, len(objects))
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:  # not the import API's shape
        raise KibanaError(f"Kibana at {url} answered in a shape its import API does not use "
                          f"({type(exc).__name__}: {str(exc)[:120]}); is the URL Kibana's?") from None


def _import_result(answer: Any, sent: int) -> ImportResult:
    """Read the import API's answer.

    Raises:
        KibanaError: the import failed for an object (Kibana's first error is named).
        AttributeError, TypeError, ValueError, KeyError, IndexError: the answer has another shape.
    """
    if not answer.get("success", False):
        errors = answer.get("errors") or []
        first = errors[0] if errors else {}
        raise KibanaError(
            f"Kibana imported {answer.get('successCount', 0)} of {sent} objects; "
            f"{first.get('type', '?')} {first.get('id', '?')}: {json.dumps(first.get('error', first))[:300]}"
        )
    ids = [str(r.get("id", "")) for r in answer.get("successResults", [])]
    return ImportResult(int(answer.get("successCount", 0)), ids)
