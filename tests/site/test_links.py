"""No broken link, anchor or image anywhere in the built site (on top of MkDocs' own validation,
which the strict build turns into errors): a crawl of every built HTML file.

Links to other sites are not fetched (the suite never leaves 127.0.0.1): they are listed in
test-artifacts/external-links.txt and checked for well-formedness.
"""

from __future__ import annotations

import ipaddress
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from tests.site.conftest import ARTIFACTS

# (tag, attribute) pairs that point at another document or a file the page needs.
LINKING = {("a", "href"), ("img", "src"), ("link", "href"), ("script", "src"), ("source", "src"),
           ("iframe", "src"), ("video", "src"), ("audio", "src"), ("area", "href")}
SCHEMES_ELSEWHERE = ("http", "https", "mailto")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)


class PageLinks(HTMLParser):
    """The ids (anchors) a page defines and the URLs it links to."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if values.get(name):
                self.anchors.add(values[name])
        for attribute in ("href", "src"):
            if (tag, attribute) in LINKING and values.get(attribute) is not None:
                self.links.append((tag, values[attribute]))
        if tag in ("img", "source") and values.get("srcset"):
            self.links += [(tag, part.split()[0]) for part in values["srcset"].split(",")]


def crawl(site: Path) -> dict[Path, PageLinks]:
    pages = {}
    for path in sorted(site.rglob("*.html")):
        parser = PageLinks()
        parser.feed(path.read_text(encoding="utf-8"))
        pages[path] = parser
    return pages


def target_file(site: Path, path: str) -> Path:
    """The file a site path is served from (a folder serves its index.html)."""
    local = site / unquote(path).lstrip("/")
    return local / "index.html" if path.endswith("/") or local.is_dir() else local


def page_url(site: Path, site_url: str, page: Path) -> str:
    relative = page.relative_to(site).as_posix()
    return site_url + (relative.removesuffix("index.html"))


def is_well_formed(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", parts.path, re.I))
    host = parts.hostname or ""
    try:
        port_ok = parts.port != 0  # raises ValueError on a port that is not a number in range
    except ValueError:
        port_ok = False
    try:
        is_ip = bool(ipaddress.ip_address(host))
    except ValueError:
        is_ip = False
    return (
        parts.scheme in ("http", "https")
        and port_ok
        and (bool(HOSTNAME.match(host)) or is_ip or host == "localhost")
        and not re.search(r"\s", url)
        and "\\" not in url
    )


def test_no_broken_internal_link_anchor_or_image(built_site: Path, site_url: str):
    pages = crawl(built_site)
    site = urlsplit(site_url)
    broken: list[str] = []
    checked = 0
    for page, links in pages.items():
        base = page_url(built_site, site_url, page)
        for tag, raw in links.links:
            url = urljoin(base, raw.strip())
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or parts.netloc != site.netloc:
                continue  # another site, mailto:, data: ...: not a file of this site
            checked += 1
            target = target_file(built_site, parts.path.removeprefix(site.path.rstrip("/")))
            where = f"{page.relative_to(built_site)}: <{tag}> {raw}"
            if not target.is_file():
                broken.append(f"{where}: no such file {target.relative_to(built_site)}")
            elif parts.fragment and target.suffix == ".html":
                anchors = pages[target].anchors if target in pages else set()
                if unquote(parts.fragment) not in anchors:
                    broken.append(f"{where}: no anchor #{parts.fragment}")
    assert checked > 0, "no internal link found: the crawl proved nothing"
    assert broken == []


def test_links_to_other_sites_are_listed_and_well_formed(built_site: Path, site_url: str):
    site = urlsplit(site_url)
    elsewhere: dict[str, set[str]] = {}
    for page, links in crawl(built_site).items():
        for _, raw in links.links:
            url = raw.strip()
            parts = urlsplit(url)
            # another host, or a scheme that is not a file of this site (javascript:, tel: ...)
            if parts.netloc != site.netloc and parts.scheme in SCHEMES_ELSEWHERE or (
                parts.scheme not in ("", "http", "https", "data")
            ):
                elsewhere.setdefault(url, set()).add(page.relative_to(built_site).as_posix())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "external-links.txt").write_text(
        "".join(f"{url}\t{', '.join(sorted(found))}\n" for url, found in sorted(elsewhere.items()))
    )
    malformed = sorted(url for url in elsewhere if not is_well_formed(url))
    assert malformed == []
