"""A feedback page re-written by an HTML parser so that it runs nothing and shows only what the grader put there.

Every tag is parsed and written out again with its attributes quoted and escaped, every text escaped: what a
browser reads is what the parser read. Dropped: <script> (with its content), comments, on* attributes, URLs with a
scheme other than http(s) or mailto (images may be data:image), http-equiv <meta>, <base>, frames, objects and
forms, and in the body (where students' cells and outputs are) <style>, <link>, style attributes and the class of the
grader's own banner, so that no answer can hide, cover or imitate the banner.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

BANNER_CLASS = "course-gradebook"  # the grader's banner (templates/feedback_banner.html.j2); no student's element
NAME = re.compile(r"[a-z][a-z0-9:._-]*\Z")
SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "ping", "srcset"}
URL_ATTRS |= {"lowsrc", "dynsrc", "codebase", "cite", "longdesc", "manifest", "icon", "xml:base"}
DROPPED = {"base", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "portal"}
BODY_DROPPED = {"link", "meta"}
WITH_CONTENT = {"script", "noscript", "template"}  # dropped whole; "style" too, in the body
IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);")


def safe_url(name: str, value: str) -> bool:
    """Whether a URL attribute's value may stay: relative, http(s), mailto, or an image's data:image."""
    url = re.sub(r"[\x00-\x20]", "", value).lower()  # browsers ignore blanks and controls in a scheme
    scheme = SCHEME.match(url)
    if scheme is None or scheme.group(1) in {"http", "https", "mailto"}:
        return name != "srcset" or "data:" not in url
    return name == "src" and IMAGE.match(url) is not None


class Rewriter(HTMLParser):
    """Writes out what it parses, leaving out what could run or pass for the grader's (see the module)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.in_body = False
        self.skipping: list[str] = []  # the elements being dropped with their content, innermost last

    def dropped_whole(self, tag: str) -> bool:
        """Whether element `tag` is dropped with everything in it."""
        return tag in WITH_CONTENT or (tag == "style" and self.in_body)

    def kept_attrs(self, attrs: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        """The attributes that may stay, the banner's class taken out of any class attribute."""
        kept = []
        for name, value in attrs:
            if not NAME.match(name) or name.startswith("on") or name == "srcdoc" or name == "http-equiv":
                continue
            if self.in_body and name == "style":
                continue
            if name in URL_ATTRS and value is not None and not safe_url(name, value):
                continue
            if name == "class" and value:
                value = " ".join(c for c in value.split() if c != BANNER_CLASS)
            kept.append((name, value))
        return kept

    def start(self, tag: str, attrs: list[tuple[str, str | None]], end: str) -> None:
        """An opening tag written out again, or left out."""
        if tag == "body":
            self.in_body = True
        if self.skipping:
            return
        if self.dropped_whole(tag):
            if end == ">":
                self.skipping.append(tag)
            return
        http_equiv = tag == "meta" and any(n == "http-equiv" for n, _ in attrs)
        if not NAME.match(tag) or tag in DROPPED or http_equiv or (self.in_body and tag in BODY_DROPPED):
            return
        written = "".join(f" {n}" if v is None else f' {n}="{html.escape(v)}"' for n, v in self.kept_attrs(attrs))
        self.out.append(f"<{tag}{written}{end}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """<tag ...>."""
        self.start(tag, attrs, ">")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """<tag .../>."""
        self.start(tag, attrs, "/>")

    def handle_endtag(self, tag: str) -> None:
        """</tag>, unless its element is left out."""
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if NAME.match(tag) and not self.dropped_whole(tag) and tag not in DROPPED and tag not in BODY_DROPPED:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        """Text, escaped; a stylesheet of the head as it is (the page's own)."""
        if not self.skipping:
            raw = self.lasttag == "style" and not self.in_body and self.cdata_elem is not None
            self.out.append(data if raw else html.escape(data, quote=False))

    def handle_decl(self, decl: str) -> None:
        """<!DOCTYPE html> stays; nothing else of the kind."""
        if decl.lower().startswith("doctype") and not self.skipping:
            self.out.append(f"<!{html.escape(decl)}>")


def rewritten(page: str) -> str:
    """`page` written out again without what could run or imitate the grader (see the module)."""
    parser = Rewriter()
    parser.feed(page)
    parser.close()
    return "".join(parser.out)
