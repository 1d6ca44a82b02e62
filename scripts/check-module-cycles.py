#!/usr/bin/env python3
"""Finds import cycles between the library's modules.

Reads src/**/*.rs (the library: src/main.rs is a separate crate), builds the
graph of references between modules and exits 1 printing every cycle, with
the lines that make each step, or exits 0 printing the module count.

A module is a file (src/a.rs or src/a/mod.rs is `a`, src/a/b.rs is `a::b`);
inline modules (`mod tests { .. }`) belong to their file. An edge A -> B is a
`use` or a path in code (`crate::..`, `super::..` where it leaves A, and path
strings such as serde's `deserialize_with = "super::f"`) that names B or
something in B. A name re-exported by `pub use` resolves to the module that
defines it. References between a module and its own submodules are
containment, not edges: a room may use its parts and its parts the room.
Comments (doc links included) are not references.

Usage: scripts/check-module-cycles.py [SRC_DIR]   (default: src next to scripts/)
"""

import pathlib
import re
import sys

MAX_CYCLES = 1000
PATH = re.compile(r"\b(?:crate|super|self)(?:\s*::\s*(?:\w+|\{))+")
USE = re.compile(r"\b(pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]+);")
INLINE_MOD = re.compile(r"\bmod\s+(\w+)\s*\{")
PATH_STRING = re.compile(r"^(?:crate|super|self)(?:::\w+)+$")


def strip(text):
    """Blanks comments and string literals (keeping offsets and newlines);
    returns the code and the path-like strings found, with their offsets."""
    out = list(text)
    strings = []
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and not re.match(r"\w", text[i - 1 : i].replace("b", "")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + len(hashes) + 2)
            end = n if end < 0 else end + 1 + len(hashes)
            blank(i, end)
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            body = text[i + 1 : j]
            if PATH_STRING.match(body):
                strings.append((i, body))
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{..}'), else a lifetime.
            m = re.match(r"'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'", text[i:])
            if m:
                blank(i, i + m.end())
                i += m.end()
            else:
                i += 1
        else:
            i += 1
    return "".join(out), strings


def expand(tree):
    """`a::{b, c::{d, e}}` -> [["a", "b"], ["a", "c", "d"], ["a", "c", "e"]]."""
    tree = re.sub(r"\s+", "", tree)
    results = []

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        return parts + [cur] if cur else parts

    def walk(prefix, s):
        brace = s.find("{")
        if brace >= 0 and s.endswith("}"):
            head = [p for p in s[:brace].split("::") if p]
            for part in split_top(s[brace + 1 : -1]):
                walk(prefix + head, part)
        else:
            results.append(prefix + [p for p in s.split("::") if p])

    walk([], tree)
    return results


def use_leaves(tree):
    """The paths of a use tree, each with its `as` alias or None."""
    leaves = []
    for segs in expand(re.sub(r"\s+as\s+", "@", tree.strip())):
        alias = None
        if segs and "@" in segs[-1]:
            name, alias = segs[-1].split("@", 1)
            segs = segs[:-1] + [name]
        leaves.append((segs, alias))
    return leaves


class Graph:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module tuple -> path
        for path in sorted(src.rglob("*.rs")):
            rel = path.relative_to(src).with_suffix("").parts
            if rel in (("main",), ("lib",)) or rel[0] == "bin":
                if rel == ("lib",):
                    self.files[()] = path
                continue
            if rel[-1] == "mod":
                rel = rel[:-1]
            self.files[tuple(rel)] = path
        self.code = {}
        self.strings = {}
        for mod, path in self.files.items():
            self.code[mod], self.strings[mod] = strip(path.read_text(encoding="utf-8"))
        self.aliases = {mod: {} for mod in self.files}  # mod -> name -> absolute segments
        for mod in self.files:
            for m in USE.finditer(self.code[mod]):
                if not m.group(1):
                    continue
                for segs, alias in use_leaves(m.group(2)):
                    absolute = self.absolute(mod, (), segs)
                    if absolute and segs[-1] not in ("self", "*"):
                        self.aliases[mod][alias or segs[-1]] = absolute

    def absolute(self, mod, inline, segs):
        """Absolute segments of a path written in `mod` (inside inline modules
        `inline`), or None for an external crate."""
        if not segs:
            return None
        here = list(mod) + list(inline)
        if segs[0] == "crate":
            return segs[1:]
        if segs[0] in ("self", "super"):
            i = 0
            while i < len(segs) and segs[i] in ("self", "super"):
                if segs[i] == "super":
                    if not here:
                        return None
                    here.pop()
                i += 1
            return here + segs[i:]
        if tuple(mod) + (segs[0],) in self.files:  # a child module, edition-2018 style
            return list(mod) + segs
        return None

    def resolve(self, segs, depth=0):
        """The module an absolute path names or defines its item in."""
        cur = ()
        for seg in segs:
            if seg in ("self", "*", "{"):
                break
            if cur + (seg,) in self.files:
                cur = cur + (seg,)
            elif depth < 8 and seg in self.aliases.get(cur, {}):
                return self.resolve(self.aliases[cur][seg], depth + 1)
            else:
                break
        return cur

    def inline_at(self, mod, offset):
        """Names of the inline modules around `offset` in mod's file."""
        code = self.code[mod]
        stack = []
        for m in INLINE_MOD.finditer(code[:offset]):
            depth, j = 1, m.end()
            while j < len(code) and depth:
                depth += {"{": 1, "}": -1}.get(code[j], 0)
                j += 1
            if j > offset:
                stack.append(m.group(1))
        return stack

    def edges(self):
        """{(a, b): [(path, line), ..]} for every reference from a to b."""
        found = {}

        def add(mod, offset, segs):
            absolute = self.absolute(mod, self.inline_at(mod, offset), segs)
            if absolute is None:
                return
            target = self.resolve(absolute)
            a, b = mod, target
            if a == b or a[: len(b)] == b or b[: len(a)] == a:
                return  # self, ancestor or descendant
            line = self.code[mod].count("\n", 0, offset) + 1
            found.setdefault((a, b), []).append((self.files[mod], line))

        for mod, code in self.code.items():
            uses = []
            for m in USE.finditer(code):
                uses.append((m.start(), m.end()))
                for segs, _ in use_leaves(m.group(2)):
                    add(mod, m.start(), segs)
            for m in PATH.finditer(code):
                if any(a <= m.start() < b for a, b in uses):
                    continue
                segs = [s for s in re.split(r"\s*::\s*", m.group(0)) if s and s != "{"]
                add(mod, m.start(), segs)
            for offset, body in self.strings[mod]:
                add(mod, offset, body.split("::"))
        return found


def cycles(nodes, adjacent):
    """Every elementary cycle, each once, starting at its smallest node."""
    out = []
    for start in sorted(nodes):
        stack = [(start, iter(sorted(adjacent.get(start, ()))))]
        path, on_path = [start], {start}
        while stack and len(out) < MAX_CYCLES:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                on_path.discard(path.pop())
            elif nxt == start:
                out.append(list(path))
            elif nxt > start and nxt not in on_path:
                stack.append((nxt, iter(sorted(adjacent.get(nxt, ())))))
                path.append(nxt)
                on_path.add(nxt)
    return out


def name(mod):
    return "::".join(mod) or "crate"


def main():
    src = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "src"
    graph = Graph(src)
    edges = graph.edges()
    adjacent = {}
    for a, b in edges:
        adjacent.setdefault(a, set()).add(b)
    found = cycles(graph.files, adjacent)
    root = src.parent
    if not found:
        print(f"no import cycle among {len(graph.files)} modules in {src}")
        return 0
    for cycle in found:
        print("cycle: " + " -> ".join(name(m) for m in cycle + cycle[:1]))
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            where = ", ".join(
                f"{p.relative_to(root) if p.is_relative_to(root) else p}:{line}" for p, line in sorted(set(edges[(a, b)]))
            )
            print(f"  {name(a)} -> {name(b)}: {where}")
    if len(found) >= MAX_CYCLES:
        print(f"(stopped after {MAX_CYCLES} cycles)")
    print(f"{len(found)} import cycle(s)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
