"""Reading the dashboard's HTML in tests: links, forms, headings."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.inputs: dict[str, str] = {}
        self.h1 = 0
        self.ids: set[str] = set()
        self.labels_for: set[str] = set()
        self.fields: list[tuple[str, str | None]] = []  # (name, id)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "action", "formaction"):
            if values.get(name) is not None:
                self.urls.append(values[name] or "")
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "h1":
            self.h1 += 1
        if tag == "label" and values.get("for"):
            self.labels_for.add(values["for"] or "")
        if tag in ("input", "select", "textarea") and values.get("type") not in (
            "hidden",
            "submit",
        ):
            self.fields.append((values.get("name") or "", values.get("id")))
        if tag == "input" and values.get("name"):
            self.inputs.setdefault(values["name"] or "", values.get("value") or "")


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def foreign_urls(html: str) -> list[str]:
    """Every src/href/action that would leave the host (or use a scheme other than http)."""
    found = []
    for url in parse(html).urls:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith("//"):
            found.append(url)
    # Inline CSS may load too: url(...) and @import.
    found += [m for m in re.findall(r"url\(\s*['\"]?([^'\")]+)", html) if "//" in m]
    return found


def csrf_token(html: str) -> str:
    return parse(html).inputs["csrf_token"]


def unlabelled_fields(html: str) -> list[str]:
    page = parse(html)
    return [name for name, id_ in page.fields if not id_ or id_ not in page.labels_for]
