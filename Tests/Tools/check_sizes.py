#!/usr/bin/env python3
"""Checks the size of the Swift sources: no file over 500 lines, no function over 120.

Scans every .swift file under Sources/ (or the folders and files given, relative to the package
root) and reports, one line each:

  path: N lines (limit 500)
  path:line: function 'name' is N lines (limit 120)

A function here is any declaration with a body: a function, an initializer or deinitializer, a
subscript, a computed property (or one with observers) and a closure-valued declaration
(`let x = { ... }`, `lazy var y: T = { ... }()`). Its length runs from the line of its keyword
(`func`, `init`, `var` ...) to the line of its closing brace. Braces are matched on tokens:
comments (nested block comments too), string literals (multi-line `\"\"\"` strings, raw
`#"..."#` strings, interpolations holding strings of their own) and `#/.../#` regular
expressions are skipped.

Exits 1 when anything is over its limit, else 0. With --list it prints every finding and exits 0.
Run from anywhere; python3 only, no dependencies.
"""

import argparse
import os
import sys

FILE_LIMIT = 500
FUNCTION_LIMIT = 120

FUNCTION_KEYWORDS = {"func", "init", "deinit", "subscript"}
BINDING_KEYWORDS = {"var", "let"}
TYPE_KEYWORDS = {"class", "struct", "enum", "extension", "protocol", "actor"}
# Tokens before `let` / `var` that make it a pattern or condition binding, not a declaration.
PATTERN_CONTEXT = {"if", "guard", "while", "case", "for", "catch", ",", "(", "in"}
OPERATOR_CHARS = set("/=-+!*%<>&|^~?.")


class Token:
    """One token: an identifier or keyword, an operator or punctuation, a string, or a line end."""

    __slots__ = ("kind", "text", "line")

    def __init__(self, kind, text, line):
        self.kind = kind
        self.text = text
        self.line = line


class Lexer:
    """Splits Swift source into tokens, dropping comments and reading literals whole."""

    def __init__(self, source):
        self.s = source
        self.n = len(source)
        self.i = 0
        self.line = 1
        self.tokens = []

    def run(self):
        self.code(emit=True, in_interpolation=False)
        return self.tokens

    def add(self, kind, text, line):
        self.tokens.append(Token(kind, text, line))

    def code(self, emit, in_interpolation):
        """Code up to the end of the text, or (in an interpolation) up to its closing `)`."""
        s, n = self.s, self.n
        depth = 0
        while self.i < n:
            c = s[self.i]
            if c == "\n":
                self.line += 1
                self.i += 1
                if emit:
                    self.add("nl", "\n", self.line - 1)
                continue
            if c in " \t\r\f\v":
                self.i += 1
                continue
            if s.startswith("//", self.i):
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
                continue
            if s.startswith("/*", self.i):
                self.block_comment()
                continue
            if c == "#" or c == '"':
                j = self.i
                while j < n and s[j] == "#":
                    j += 1
                hashes = j - self.i
                if j < n and s[j] == '"':
                    line = self.line
                    self.i = j
                    self.string(hashes)
                    if emit:
                        self.add("str", '""', line)
                    continue
                if hashes > 0 and j < n and s[j] == "/":
                    line = self.line
                    self.i = j + 1
                    self.regex(hashes)
                    if emit:
                        self.add("str", "#//#", line)
                    continue
                if c == "#":  # a directive or a `#name` expression
                    j = self.i + 1
                    while j < n and (s[j].isalnum() or s[j] == "_"):
                        j += 1
                    if emit:
                        self.add("id", s[self.i:j], self.line)
                    self.i = j
                    continue
            if c == "`":
                end = s.find("`", self.i + 1)
                end = n if end < 0 else end + 1
                if emit:
                    self.add("id", s[self.i + 1:end - 1], self.line)
                self.i = end
                continue
            if c.isalnum() or c == "_" or c == "$":
                j = self.i + 1
                while j < n and (s[j].isalnum() or s[j] == "_" or s[j] == "$"):
                    j += 1
                if emit:
                    self.add("id", s[self.i:j], self.line)
                self.i = j
                continue
            if c in OPERATOR_CHARS:
                j = self.i + 1
                while (
                    j < n and s[j] in OPERATOR_CHARS
                    and not s.startswith("//", j) and not s.startswith("/*", j)
                ):
                    j += 1
                if emit:
                    self.add("op", s[self.i:j], self.line)
                self.i = j
                continue
            if in_interpolation:
                if c == "(":
                    depth += 1
                elif c == ")":
                    if depth == 0:
                        self.i += 1
                        return
                    depth -= 1
            if emit:
                self.add("punct", c, self.line)
            self.i += 1

    def block_comment(self):
        """A `/* ... */` comment, which may hold others."""
        s, n = self.s, self.n
        depth = 0
        while self.i < n:
            if s.startswith("/*", self.i):
                depth += 1
                self.i += 2
            elif s.startswith("*/", self.i):
                depth -= 1
                self.i += 2
                if depth == 0:
                    return
            else:
                if s[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def string(self, hashes):
        """A string literal from its opening quote at `i`, raw with `hashes` `#`s."""
        s, n = self.s, self.n
        multiline = s.startswith('"""', self.i)
        quote = '"""' if multiline else '"'
        closing = quote + "#" * hashes
        escape = "\\" + "#" * hashes
        self.i += len(quote)
        while self.i < n:
            c = s[self.i]
            if s.startswith(escape, self.i):
                self.i += len(escape)
                if self.i < n and s[self.i] == "(":
                    self.i += 1
                    self.code(emit=False, in_interpolation=True)
                elif self.i < n:
                    if s[self.i] == "\n":
                        self.line += 1
                    self.i += 1
                continue
            if s.startswith(closing, self.i):
                self.i += len(closing)
                return
            if c == "\n":
                if not multiline:
                    return  # an unterminated string ends with its line
                self.line += 1
            self.i += 1

    def regex(self, hashes):
        """A `#/ ... /#` regular expression literal, after its opening `/`."""
        s, n = self.s, self.n
        closing = "/" + "#" * hashes
        while self.i < n:
            if s[self.i] == "\\" and self.i + 1 < n:
                if s[self.i + 1] == "\n":
                    self.line += 1
                self.i += 2
                continue
            if s.startswith(closing, self.i):
                self.i += len(closing)
                return
            if s[self.i] == "\n":
                self.line += 1
            self.i += 1


class Declaration:
    """A declaration whose body may follow: its kind, name, line and the nesting it is at."""

    def __init__(self, kind, name, line, depth):
        self.kind = kind
        self.name = name
        self.line = line
        self.depth = depth
        self.saw_colon = False
        self.saw_equals = False


def significant(tokens, index, step):
    """The nearest token from `index` on (in direction `step`) that is not a line end."""
    index += step
    while 0 <= index < len(tokens):
        if tokens[index].kind != "nl":
            return tokens[index]
        index += step
    return None


def functions(tokens):
    """(line, qualified name, length) of each declaration with a body, in source order."""
    found = []
    stack = []  # [opener, declaration or None, scope name or None]
    pending = None
    pending_type = None
    for index, token in enumerate(tokens):
        text = token.text
        before = significant(tokens, index, -1)
        if token.kind == "nl":
            if pending and pending.kind in BINDING_KEYWORDS and len(stack) == pending.depth:
                after = significant(tokens, index, 1)
                continues = before is not None and before.text in ("=", ":", "->", ",")
                if not continues and not (after is not None and after.text in ("{", "=")):
                    pending = None
            continue
        after_dot = before is not None and before.kind == "op" and before.text.endswith(".")
        if token.kind == "id" and text in FUNCTION_KEYWORDS and not after_dot:
            name = text
            if text == "func":
                following = significant(tokens, index, 1)
                name = following.text if following else "?"
            pending = Declaration("func", name, token.line, len(stack))
            continue
        if token.kind == "id" and text in BINDING_KEYWORDS and not after_dot:
            following = significant(tokens, index, 1)
            in_pattern = before is not None and before.text in PATTERN_CONTEXT
            if in_pattern or following is None or following.kind != "id":
                pending = None
            else:
                pending = Declaration(text, following.text, token.line, len(stack))
            continue
        if token.kind == "id" and text in TYPE_KEYWORDS and not after_dot:
            following = significant(tokens, index, 1)
            if following is not None and following.kind == "id" and following.text not in (
                FUNCTION_KEYWORDS | BINDING_KEYWORDS
            ):
                pending_type = [following.text, len(stack), index + 1]
                pending = None
            continue
        if token.kind == "op" and text == "=":
            if pending and pending.kind in BINDING_KEYWORDS and len(stack) == pending.depth:
                pending.saw_equals = True
            continue
        if token.kind == "punct" and text == ":":
            if pending and pending.kind in BINDING_KEYWORDS and len(stack) == pending.depth:
                pending.saw_colon = True
            continue
        if token.kind != "punct":
            continue
        if text == "{":
            declaration, scope = None, None
            if pending is not None and len(stack) == pending.depth:
                if pending.kind == "func":
                    declaration = pending
                elif pending.saw_equals:
                    if before is not None and before.text == "=":
                        declaration = pending  # a closure-valued declaration
                elif pending.saw_colon and pending.kind == "var":
                    declaration = pending  # a computed property
                pending = None
            elif pending_type is not None and len(stack) == pending_type[1]:
                scope = type_name(tokens, pending_type[2], index)
            pending_type = None
            stack.append(["{", declaration, scope])
        elif text in "([":
            stack.append([text, None, None])
        elif text in ")]":
            if stack and stack[-1][0] != "{":
                stack.pop()
        elif text == "}":
            while stack and stack[-1][0] != "{":
                stack.pop()
            if stack:
                _, declaration, _ = stack.pop()
                if declaration is not None:
                    names = [entry[2] or (entry[1].name if entry[1] else None) for entry in stack]
                    qualified = ".".join([n for n in names if n] + [declaration.name])
                    found.append((declaration.line, qualified, token.line - declaration.line + 1))
            if pending is not None and len(stack) < pending.depth:
                pending = None
    found.sort()
    return found


def type_name(tokens, start, end):
    """The name a type or extension declares, from its first token (`A.B` for an extension)."""
    parts = []
    for token in tokens[start:end]:
        if token.kind == "id" and (not parts or parts[-1] == "."):
            parts.append(token.text)
        elif token.kind == "op" and token.text == "." and parts and parts[-1] != ".":
            parts.append(".")
        else:
            break
    return "".join(parts).rstrip(".") or None


def check(path, shown):
    """The findings for one file, each a line of the report."""
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    findings = []
    lines = len(source.splitlines())
    if lines > FILE_LIMIT:
        findings.append(f"{shown}: {lines} lines (limit {FILE_LIMIT})")
    for line, name, length in functions(Lexer(source).run()):
        if length > FUNCTION_LIMIT:
            findings.append(
                f"{shown}:{line}: function '{name}' is {length} lines (limit {FUNCTION_LIMIT})")
    return findings


def swift_files(root, paths):
    """The .swift files under `paths` (relative to `root`), sorted."""
    files = []
    for path in paths:
        full = os.path.join(root, path)
        if os.path.isfile(full):
            files.append(full)
            continue
        for folder, subfolders, names in os.walk(full):
            subfolders.sort()
            files += [os.path.join(folder, name) for name in names if name.endswith(".swift")]
    return sorted(files)


def main():
    parser = argparse.ArgumentParser(
        description="Fails on a Swift file over 500 lines or a function over 120.")
    parser.add_argument(
        "--list", action="store_true", help="print every finding and exit 0")
    parser.add_argument(
        "paths", nargs="*", default=["Sources"],
        help="folders or files, relative to the package root (default: Sources)")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    findings = []
    for path in swift_files(root, args.paths):
        findings += check(path, os.path.relpath(path, root))
    for finding in findings:
        print(finding)
    return 0 if args.list or not findings else 1


if __name__ == "__main__":
    sys.exit(main())
