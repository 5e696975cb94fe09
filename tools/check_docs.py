#!/usr/bin/env python3
"""Checks the relative links of the project's Markdown documentation.

For README.md, docs/*.md, benchmarks/README.md, cc/segment/FORMAT.md and
tools/services/README.md (or the files given as arguments, relative to the
repository root), every relative link -- inline `[text](target)`, image
`![alt](target)` or reference definition `[label]: target` -- must name a
file or directory that exists, and a `#fragment` must name an anchor of the
target Markdown file (or of the same file for `(#fragment)`).

Anchors are computed as GitHub computes them: the heading's text (inline
code, emphasis and link syntax reduced to their text) lowercased, every
character that is not a letter, a digit, a space, '-' or '_' dropped (so an
em dash or an arrow disappears, and the spaces around it stay as two '-'),
then each space turned into '-'; a repeated heading gets "-1", "-2", ...
HTML `id=`/`name=` attributes count as anchors too. Links in code blocks and
code spans are not links; absolute URLs (http:, mailto:, ...) are not checked.

Prints each broken link as FILE:LINE: target (reason), and an unclosed code
fence as FILE:LINE: unclosed code fence; exits 1 if there is any, else 0.

  python3 tools/check_docs.py                 # the default files
  python3 tools/check_docs.py docs/x.md ...   # only these
"""
import argparse
import glob
import os
import re
import sys
import unicodedata
from urllib.parse import unquote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FILES = ["README.md", "docs/*.md", "benchmarks/README.md", "cc/segment/FORMAT.md",
                 "tools/services/README.md"]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
INLINE_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"<[a-zA-Z][^>]*?\s(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


def strip_code_spans(line):
    """The line with each code span replaced by spaces (links inside are text)."""
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


def heading_text(raw):
    """The text GitHub renders for a heading's Markdown source."""
    text = CODE_SPAN.sub(lambda m: m.group(2).strip(), raw)
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)", r"\1", text)  # links, images
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\[[^\]]*\]", r"\1", text)  # reference links
    text = re.sub(r"<[^>]+>", "", text)                                       # HTML tags
    return text.strip()


def slug(text):
    """GitHub's anchor for a heading text."""
    out = []
    for ch in text.lower():
        if ch in " -_" or ch.isalnum() or unicodedata.category(ch).startswith("M"):
            out.append(ch)
    return "".join(out).replace(" ", "-")


class Doc:
    """One Markdown file: its anchors, its links, its unclosed fence if any."""

    def __init__(self, path):
        self.path = path
        self.anchors = set()
        self.links = []          # (line number, target)
        self.unclosed_fence = None
        counts = {}

        def add_heading(raw):
            base = slug(heading_text(raw))
            n = counts.get(base, 0)
            counts[base] = n + 1
            self.anchors.add(base if n == 0 else f"{base}-{n}")

        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        fence = None             # (char, length, line number) while inside a fenced block
        prev = None              # previous line if it can be a setext heading's text
        for number, line in enumerate(lines, 1):
            m = FENCE.match(line)
            if fence:
                if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= fence[1] \
                        and not m.group(2).strip():
                    fence = None
                continue
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                fence = (m.group(1)[0], len(m.group(1)), number)
                prev = None
                continue
            if line.startswith("    ") and prev is None:
                continue         # indented code block (not a paragraph continuation)
            h = ATX.match(line)
            if h:
                add_heading(h.group(2) or "")
                prev = None
            elif prev is not None and SETEXT.match(line):
                add_heading(prev)
                prev = None
                continue
            for a in HTML_ANCHOR.findall(line):
                self.anchors.add(a)
            d = REF_DEF.match(line)
            if d:
                self.links.append((number, d.group(2).strip("<>")))
            else:
                for l in INLINE_LINK.finditer(strip_code_spans(line)):
                    self.links.append((number, l.group(3).strip("<>")))
            stripped = line.strip()
            if h or not stripped or re.match(r"^ {0,3}([>|]|[-*+] |\d+[.)] |<)", line) \
                    or re.fullmatch(r"[-*_ ]{3,}", stripped):
                prev = None
            else:
                prev = line
        if fence:
            self.unclosed_fence = fence[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*",
                        help="Markdown files relative to the repository root (default: %s)"
                             % ", ".join(DEFAULT_FILES))
    args = parser.parse_args()
    os.chdir(ROOT)
    files = []
    for pattern in args.files or DEFAULT_FILES:
        matched = sorted(glob.glob(pattern))
        if not matched:
            print(f"{pattern}: no such file", file=sys.stderr)
            return 2
        files.extend(m for m in matched if m not in files)

    docs = {}

    def doc(path):
        path = os.path.normpath(path)
        if path not in docs:
            docs[path] = Doc(path)
        return docs[path]

    broken = []
    checked = 0
    for name in files:
        d = doc(name)
        if d.unclosed_fence:
            broken.append(f"{name}:{d.unclosed_fence}: unclosed code fence")
        for number, target in d.links:
            if SCHEME.match(target) or target.startswith("//"):
                continue         # an absolute URL
            checked += 1
            path, _, fragment = target.partition("#")
            path, fragment = unquote(path), unquote(fragment)
            if not path:
                dest = name
            elif path.startswith("/"):
                dest = os.path.normpath(path.lstrip("/"))
            else:
                dest = os.path.normpath(os.path.join(os.path.dirname(name), path))
            if not os.path.exists(dest):
                broken.append(f"{name}:{number}: {target} (no file {dest})")
                continue
            if not fragment:
                continue
            if os.path.isdir(dest):
                readme = os.path.join(dest, "README.md")
                if not os.path.isfile(readme):
                    broken.append(f"{name}:{number}: {target} (a directory without README.md)")
                    continue
                dest = readme
            if dest.endswith(".md"):
                if fragment not in doc(dest).anchors:
                    broken.append(f"{name}:{number}: {target} (no anchor #{fragment} in {dest})")
            elif not re.fullmatch(r"L\d+(-L\d+)?", fragment):
                broken.append(f"{name}:{number}: {target} (#{fragment} in a file that is not Markdown)")
    for b in broken:
        print(b)
    if broken:
        print(f"check_docs: {len(broken)} broken link(s) in {len(files)} file(s)")
        return 1
    print(f"check_docs: {checked} relative link(s) in {len(files)} file(s) ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
