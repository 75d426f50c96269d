"""A hand-written tokenizer and recursive-descent parser for Rego v0 and v1 (OPA 1.17 syntax) into `syntax`.

The grammar follows OPA's policy reference and its parser's behaviour. Points that decide meaning:
- whitespace (a newline or a comment too) ends a term: `a (b)`, `a [0]`, and a line starting with `(` after a
  complete expression, are never a call or a reference (rego-cpp gets this one wrong); `.`, `[` and `(` continue
  a term only when they touch it;
- a newline or `;` separates the expressions of a body, but an infix operator continues an expression across a
  newline (`x := 1` then `- 1` on the next line is `x := 1 - 1`);
- as in OPA, a comprehension head is a single term (`[(x + 1) | ...]` needs its parentheses), and `{a | b}` is a
  comprehension whenever `b` parses as a body;
- in v0, `contains`, `if`, `in` and `every` are plain names unless `import future.keywords[.kw]` or
  `import rego.v1` turns them on; in v1 they are always keywords (`contains(...)` stays callable);
- rule heads are normalised to a `RuleKind` (v0 `p[x] { }` is a partial set, `p[x] = v`/`p[x] if` an object).
"""

from __future__ import annotations

import re

from .syntax import (
    Array,
    ArrayComprehension,
    Assignment,
    BinOp,
    Body,
    Boolean,
    Call,
    ElseClause,
    Every,
    Expr,
    Import,
    Membership,
    Module,
    Null,
    Number,
    Object,
    ObjectComprehension,
    Ref,
    RegoSyntaxError,
    Rule,
    RuleKind,
    Set,
    SetComprehension,
    SomeDecl,
    SomeIn,
    String,
    TemplateString,
    Term,
    Var,
    With,
    is_ground,
)

__all__ = ["FUTURE_KEYWORDS", "KEYWORDS", "RegoSyntaxError", "decode_string", "parse_module"]

# Keywords of every version; `true`, `false` and `null` are literals.
KEYWORDS = frozenset({"package", "import", "as", "default", "else", "not", "some", "with", "true", "false", "null"})
# Keywords of v1 that v0 only has when imported.
FUTURE_KEYWORDS = frozenset({"contains", "every", "if", "in"})

# Token kinds.
NAME, NUMBER, STRING, RAWSTRING, OP, EOF = "name", "number", "string", "rawstring", "op", "eof"
TEMPLATE, TEMPLATE_PART = "template", "template part"  # `$"text{` / `$"text"`, then `}text{` / `}text"`

# The common tokens in one pattern; braces, raw and template strings, and errors take the slow path in `scan`.
# The group names are the token kinds.
_FAST = re.compile(
    r"(?P<space>(?:[ \t\r\n]+|#[^\n]*)+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_.])"
    r'|"(?P<string>(?:[^"\\\n]|\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4}))*)"'
    r"|(?P<op>:=|==|!=|<=|>=|[()\[\],;:.=<>+*/%&|-])"
)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_TEMPLATE_CHUNK = re.compile(r'((?:[^"\\\n{]|\\(?:["\\/bfnrt{]|u[0-9A-Fa-f]{4}))*)(["{])')
_RAW_TEMPLATE_CHUNK = re.compile(r"((?:[^`\\{]|\\\{|\\(?!\{))*)([`{])")
_ESCAPE = re.compile(
    r"\\(?:u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|(.))", re.DOTALL
)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "{": "{"}
# Binding strength of binary operators (OPA: relations < | < & < + - < * / %); all associate to the left.
_PRECEDENCE = {
    **dict.fromkeys(("==", "!=", "<", ">", "<=", ">="), 1),
    "|": 2,
    "&": 3,
    **dict.fromkeys(("+", "-"), 4),
    **dict.fromkeys(("*", "/", "%"), 5),
}
_REF_HEADS = (Var, Array, Object, Set, ArrayComprehension, SetComprehension, ObjectComprehension, Call)


class Token:
    """One token; `ws`/`nl` say whether whitespace / a newline came before it (comments count as whitespace)."""

    __slots__ = ("closed", "col", "kind", "line", "nl", "raw", "text", "ws")

    def __init__(self, kind: str, text: str, line: int, col: int, ws: bool, nl: bool):
        self.kind, self.text, self.line, self.col, self.ws, self.nl = kind, text, line, col, ws, nl
        self.raw = False  # template chunks: from $`...`
        self.closed = False  # template chunks: the string ends after this chunk

    def describe(self) -> str:
        if self.kind == EOF:
            return "end of file"
        if self.kind in (STRING, RAWSTRING):
            return "a string"
        if self.kind == TEMPLATE:
            return "a template string"
        if self.kind == TEMPLATE_PART:
            return "'}'"
        if self.kind == NUMBER:
            return f"number {self.text}"
        return f"'{self.text}'"


def decode_string(text: str, *, template: bool = False) -> str:
    """The value of a double-quoted string's inner text, decoded like Go's JSON decoder (which OPA uses).

    A lone UTF-16 surrogate escape becomes U+FFFD. In templates `\\{` is a literal `{`.
    """
    if "\\" not in text:
        return text

    def replace(found: re.Match[str]) -> str:
        high, low, single, simple = found.groups()
        if high:
            return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))
        if single:
            code = int(single, 16)
            return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)
        if simple == "{" and not template:
            return "\\{"
        return _SIMPLE_ESCAPES.get(simple, "\\" + simple)

    return _ESCAPE.sub(replace, text)


class _Tokenizer:
    def __init__(self, source: str, filename: str):
        self.src, self.filename = source, filename
        self.pos, self.line, self.line_start = 0, 1, 0
        self.tokens: list[Token] = []
        # One entry per open template-string expression: [raw, open braces inside it].
        self.templates: list[list] = []

    def fail(self, message: str, pos: int | None = None) -> RegoSyntaxError:
        pos = self.pos if pos is None else pos
        line = self.src.count("\n", 0, pos) + 1
        col = pos - (self.src.rfind("\n", 0, pos) + 1) + 1
        return RegoSyntaxError(message, self.filename, line, col)

    def advance_to(self, end: int) -> None:
        """Move to `end`, keeping the line count across any newlines passed."""
        newlines = self.src.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.src.rfind("\n", self.pos, end) + 1
        self.pos = end

    def run(self) -> list[Token]:
        src, n, tokens = self.src, len(self.src), self.tokens
        if src.startswith("\ufeff"):
            self.pos = self.line_start = 1
        ws = nl = False
        while self.pos < n:
            found = _FAST.match(src, self.pos)
            kind = found.lastgroup if found is not None else None
            if found is not None and kind == "space":
                ws, nl = True, nl or "\n" in found.group()
                self.advance_to(found.end())
                continue
            line, col = self.line, self.pos - self.line_start + 1
            if found is None or kind is None:
                tokens.append(self.scan(line, col, ws, nl))
            else:  # the group names are the token kinds
                tokens.append(Token(kind, found.group(kind), line, col, ws, nl))
                self.pos = found.end()
            ws = nl = False
        tokens.append(Token(EOF, "", self.line, self.pos - self.line_start + 1, ws, nl))
        if self.templates:
            raise self.fail("unterminated template string expression: expected '}'")
        return tokens

    def scan(self, line: int, col: int, ws: bool, nl: bool) -> Token:
        """Tokens the fast pattern leaves: braces, raw and template strings, bad numbers and strings, errors."""
        src, pos = self.src, self.pos
        ch = src[pos]
        if ch.isdigit():
            return self.scan_number(line, col, ws, nl)
        if ch == '"':
            raise self.quoted_error(pos + 1, pos, template=False)
        if ch == "`":
            end = src.find("`", pos + 1)
            if end < 0:
                raise self.fail("unterminated raw string: expected a closing '`'")
            self.advance_to(end + 1)
            return Token(RAWSTRING, src[pos + 1 : end], line, col, ws, nl)
        if ch == "$":
            if src.startswith(('$"', "$`"), pos):
                self.pos += 2
                return self.scan_template_chunk(TEMPLATE, src[pos + 1] == "`", line, col, ws, nl)
            raise self.fail("'$' must start a template string: $\"...\" or $`...`")
        if ch in "{}":
            self.pos += 1
            if self.templates:
                return self.template_brace(ch, line, col, ws, nl)
            return Token(OP, ch, line, col, ws, nl)
        if ch == "!":
            raise self.fail("unexpected '!': write 'not' to negate an expression, or '!=' for 'not equal'")
        raise self.fail(f"unexpected character {ch!r}")

    def scan_number(self, line: int, col: int, ws: bool, nl: bool) -> Token:
        src = self.src
        found = _NUMBER.match(src, self.pos)
        assert found is not None
        end = found.end()
        after = src[end : end + 1]
        if after == "." and not src[end + 1 : end + 2].isdigit():
            raise self.fail("expected digits after the decimal point", end)
        if after and (after.isalnum() or after == "_"):
            stop = end
            while stop < len(src) and (src[stop].isalnum() or src[stop] == "_"):
                stop += 1
            raise self.fail(f"invalid number {src[self.pos : stop]!r}")
        self.pos = end
        return Token(NUMBER, found.group(), line, col, ws, nl)

    def quoted_error(self, content: int, opener: int, template: bool) -> RegoSyntaxError:
        """Locate what is wrong in a double-quoted (template) string that the fast pattern rejected."""
        src, pos = self.src, content
        what, stops = ("template string", '"\n{') if template else ("string", '"\n')
        while pos < len(src) and src[pos] not in stops:
            if src[pos] == "\\":
                escape = src[pos + 1 : pos + 2]
                if escape == "u":
                    if not re.fullmatch(r"[0-9A-Fa-f]{4}", src[pos + 2 : pos + 6]):
                        return self.fail("invalid \\u escape: expected 4 hexadecimal digits", pos)
                    pos += 6
                    continue
                if escape not in _SIMPLE_ESCAPES or (escape == "{" and not template):
                    return self.fail(f"invalid escape sequence '\\{escape.strip()}' in {what}", pos)
                pos += 2
                continue
            pos += 1
        return self.fail(f"unterminated {what}: expected a closing '\"' on the same line", opener)

    def scan_template_chunk(self, kind: str, raw: bool, line: int, col: int, ws: bool, nl: bool) -> Token:
        """The literal text of a template string up to its end or its next `{expression}`."""
        start = self.pos
        found = (_RAW_TEMPLATE_CHUNK if raw else _TEMPLATE_CHUNK).match(self.src, start)
        if not found:
            opener = start - 2 if kind == TEMPLATE else start - 1  # `$"` or the `}` closing an expression
            if raw:
                raise self.fail("unterminated template string: expected a closing '`'", opener)
            raise self.quoted_error(start, opener, template=True)
        self.advance_to(found.end())
        token = Token(kind, found.group(1), line, col, ws, nl)
        token.raw, token.closed = raw, found.group(2) != "{"
        if not token.closed:
            self.templates.append([raw, 0])
        return token

    def template_brace(self, ch: str, line: int, col: int, ws: bool, nl: bool) -> Token:
        """Braces inside a template expression: the `}` matching its `{` resumes the template text."""
        current = self.templates[-1]
        if ch == "{":
            current[1] += 1
            return Token(OP, ch, line, col, ws, nl)
        if current[1]:
            current[1] -= 1
            return Token(OP, ch, line, col, ws, nl)
        self.templates.pop()
        return self.scan_template_chunk(TEMPLATE_PART, current[0], line, col, ws, nl)


def tokenize(source: str, filename: str = "<rego>") -> list[Token]:
    """The tokens of a source, ending with an EOF token."""
    return _Tokenizer(source, filename).run()


class _Parser:
    def __init__(self, tokens: list[Token], version: str, filename: str):
        self.toks, self.filename, self.version = tokens, filename, version
        self.i = 0
        self.tok = tokens[0]
        self.kw: set[str] = set(KEYWORDS) | (set(FUTURE_KEYWORDS) if version == "v1" else set())

    # --- helpers ---

    def advance(self) -> None:
        self.i += 1
        self.tok = self.toks[self.i]

    def goto(self, index: int) -> None:
        self.i = index
        self.tok = self.toks[index]

    def fail(self, token: Token, message: str) -> RegoSyntaxError:
        return RegoSyntaxError(message, self.filename, token.line, token.col)

    def is_op(self, text: str) -> bool:
        return self.tok.kind == OP and self.tok.text == text

    def is_kw(self, word: str) -> bool:
        return self.tok.kind == NAME and self.tok.text == word and word in self.kw

    def is_name(self, token: Token) -> bool:
        return token.kind == NAME and token.text not in self.kw

    def touching(self, *ops: str) -> bool:
        """The current token is one of `ops` with no whitespace before it (a term continues)."""
        return self.tok.kind == OP and not self.tok.ws and self.tok.text in ops

    def expect_close(self, close: str, opener: Token, what: str) -> None:
        if self.is_op(close):
            self.advance()
            return
        raise self.close_error(close, opener, what)

    def close_error(self, close: str, opener: Token, what: str) -> RegoSyntaxError:
        where = f"the {what} opened at {opener.line}:{opener.col}"
        if self.tok.kind == EOF:
            return self.fail(self.tok, f"expected '{close}' to close {where}")
        return self.fail(self.tok, f"expected '{close}' to close {where}, found {self.tok.describe()}")

    def separator_error(self) -> RegoSyntaxError:
        token = self.tok
        message = f"expected a newline or ';' before {token.describe()}"
        if token.kind == NAME and token.text in FUTURE_KEYWORDS and token.text not in self.kw:
            message += f" ('{token.text}' is a keyword only in Rego v1 or after `import future.keywords.{token.text}`)"
        return self.fail(token, message)

    # --- module, package, imports ---

    def module(self) -> Module:
        start = self.tok
        if start.kind == EOF:
            raise self.fail(start, "empty module: expected 'package <name>'")
        if not self.is_kw("package"):
            raise self.fail(start, f"a module must start with 'package <name>', found {start.describe()}")
        self.advance()
        package = self.path_words("package")
        imports: list[Import] = []
        rules: list[Rule] = []
        while self.tok.kind != EOF:
            if self.is_kw("import"):
                imports.append(self.import_())
            elif self.is_kw("package"):
                raise self.fail(self.tok, "a module has only one 'package' declaration")
            else:
                rules.append(self.rule())
        return Module(package, tuple(imports), tuple(rules), line=start.line, col=start.col)

    def path_words(self, after: str) -> tuple[str, ...]:
        first = self.tok
        if first.kind != NAME or (first.text in self.kw and first.text not in FUTURE_KEYWORDS):
            raise self.fail(first, f"expected a path after '{after}', found {first.describe()}")
        words = [first.text]
        self.advance()
        while self.touching(".", "["):
            if self.tok.text == ".":
                self.advance()
                if self.tok.kind != NAME or self.tok.ws:
                    raise self.fail(self.tok, f"expected a name after '.', found {self.tok.describe()}")
                words.append(self.tok.text)
                self.advance()
            else:
                opener = self.tok
                self.advance()
                if self.tok.kind not in (STRING, RAWSTRING):
                    found = self.tok.describe()
                    raise self.fail(self.tok, f"expected a string inside '[...]' of a path, found {found}")
                words.append(decode_string(self.tok.text) if self.tok.kind == STRING else self.tok.text)
                self.advance()
                self.expect_close("]", opener, "path segment")
        return tuple(words)

    def import_(self) -> Import:
        start = self.tok
        self.advance()
        path_tok = self.tok
        path = self.path_words("import")
        root = path[0]
        if root not in ("data", "input", "future", "rego"):
            raise self.fail(path_tok, f"an import path must start with data, input, future or rego, not '{root}'")
        alias = None
        if self.is_kw("as"):
            self.advance()
            if not self.is_name(self.tok):
                raise self.fail(self.tok, f"expected a name after 'as', found {self.tok.describe()}")
            alias = self.tok.text
            self.advance()
        if root == "future":
            self.future_import(path, alias, path_tok)
        elif root == "rego":
            if path != ("rego", "v1"):
                raise self.fail(path_tok, "invalid import: the only 'rego' import is `rego.v1`")
            if alias:
                raise self.fail(path_tok, "`rego.v1` cannot be imported with an alias")
            self.kw |= FUTURE_KEYWORDS
        elif alias is None and len(path) > 1 and path[-1] in self.kw:
            raise self.fail(path_tok, f"an import path cannot end with the keyword '{path[-1]}'; add 'as <name>'")
        return Import(path, alias, line=start.line, col=start.col)

    def future_import(self, path: tuple[str, ...], alias: str | None, at: Token) -> None:
        if len(path) < 2 or path[1] != "keywords":
            raise self.fail(at, "invalid import: write `future.keywords` or `future.keywords.<keyword>`")
        if alias:
            raise self.fail(at, "`future.keywords` imports cannot have an alias")
        if len(path) == 2:
            self.kw |= FUTURE_KEYWORDS
        elif len(path) == 3 and path[2] in FUTURE_KEYWORDS:
            self.kw |= {path[2], "in"} if path[2] == "every" else {path[2]}
        else:
            raise self.fail(at, "unknown future keyword: expected one of contains, every, if, in")

    # --- rules ---

    def rule(self) -> Rule:
        start = self.tok
        default = self.is_kw("default")
        if default:
            self.advance()
        name_tok = self.tok
        if not self.is_name(name_tok):
            if default:
                raise self.fail(name_tok, f"expected a rule name after 'default', found {name_tok.describe()}")
            raise self.fail(name_tok, f"expected a rule or an import, found {name_tok.describe()}")
        self.advance()
        path, bracketed, args = self.head_ref()
        key = value = assign = None
        contains = self.is_kw("contains")
        if contains:
            if args is not None:
                raise self.fail(self.tok, "'contains' defines a set: a function cannot use it")
            if default:
                raise self.fail(self.tok, "a default rule cannot use 'contains'")
            self.advance()
            key = self.membership(True)
        elif self.is_op(":=") or self.is_op("="):
            assign = self.tok.text
            self.advance()
            value = self.membership(True)
        position = {"line": start.line, "col": start.col}
        if default:
            return self.default_rule(name_tok, path, args, value, assign, position)

        has_if = self.is_kw("if")
        if contains:
            kind = RuleKind.PARTIAL_SET
        elif args is not None:
            kind = RuleKind.FUNCTION
        elif len(path) == 1 and bracketed[0] and value is None and not has_if:
            if self.version == "v1":
                example = f"{name_tok.text} contains ..."
                raise self.fail(name_tok, f"Rego v1 needs 'contains' for a partial set: write `{example}`")
            kind, key, path = RuleKind.PARTIAL_SET, path[0], ()
        elif not all(is_ground(part) for part in path):
            kind, key, path = RuleKind.PARTIAL_OBJECT, path[-1], path[:-1]
        else:
            kind = RuleKind.COMPLETE

        bodies: list[Body] = []
        if has_if:
            self.advance()
            bodies.append(self.if_body())
        elif self.is_op("{"):
            if self.version == "v1":
                raise self.fail(self.tok, "Rego v1 needs 'if' before a rule body")
            bodies.append(self.block("rule body"))
        elif value is None and kind not in (RuleKind.PARTIAL_SET, RuleKind.FUNCTION):  # `f(x)` alone is true
            found = self.tok.describe()
            raise self.fail(
                self.tok, f"expected ':=', '=', 'if' or '{{' after the rule head '{name_tok.text}', found {found}"
            )

        else_: list[ElseClause] = []
        if self.is_kw("else"):
            if kind not in (RuleKind.COMPLETE, RuleKind.FUNCTION):
                raise self.fail(self.tok, "'else' can only follow a rule with a single value or a function")
            if not bodies:
                raise self.fail(self.tok, "'else' must follow a rule body")
            while self.is_kw("else"):
                clause = self.else_clause()
                else_.append(clause)
                if not clause.body:
                    break
        while bodies and self.is_op("{"):
            if else_:
                raise self.fail(self.tok, "expected 'else' before another body")
            bodies.append(self.block("rule body"))
        if len(bodies) > 1 and self.is_kw("else"):
            raise self.fail(self.tok, "'else' cannot follow a rule with several bodies")
        return Rule(
            kind, name_tok.text, path, args or (), key, value, assign, False, tuple(bodies), tuple(else_), **position
        )

    def head_ref(self) -> tuple[tuple[Term, ...], list[bool], tuple[Term, ...] | None]:
        """The head after the rule name: `.a`, `[x]` parts and `(args)`; whitespace may precede the first one."""
        path: list[Term] = []
        bracketed: list[bool] = []
        first = True
        while self.tok.kind == OP and self.tok.text in ".[(" and (first or not self.tok.ws):
            first = False
            opener = self.tok
            self.advance()
            if opener.text == ".":
                if self.tok.kind != NAME or self.tok.ws:
                    raise self.fail(self.tok, f"expected a name after '.', found {self.tok.describe()}")
                path.append(String(self.tok.text, text=self.tok.text, line=self.tok.line, col=self.tok.col))
                bracketed.append(False)
                self.advance()
            elif opener.text == "[":
                path.append(self.membership(True))
                bracketed.append(True)
                self.expect_close("]", opener, "rule head reference")
            else:
                return tuple(path), bracketed, self.term_list(")", opener, "argument list")
        return tuple(path), bracketed, None

    def default_rule(
        self,
        name_tok: Token,
        path: tuple[Term, ...],
        args: tuple[Term, ...] | None,
        value: Term | None,
        assign: str | None,
        position: dict[str, int],
    ) -> Rule:
        if value is None:
            raise self.fail(self.tok, f"a default rule needs a value, e.g. `default {name_tok.text} := false`")
        if not is_ground(value, comprehensions=True):
            raise self.fail(name_tok, "a default value must be a constant (no variables, references or calls)")
        seen: set[str] = set()
        for arg in args or ():
            if not isinstance(arg, Var):
                raise self.fail(name_tok, "the arguments of a default function must be variables")
            if arg.name != "_" and arg.name in seen:
                raise self.fail(name_tok, f"the arguments of a default function must differ: '{arg.name}' repeats")
            seen.add(arg.name)
        if self.is_kw("if") or self.is_op("{"):
            raise self.fail(self.tok, "a default rule cannot have a body")
        kind = RuleKind.FUNCTION if args is not None else RuleKind.COMPLETE
        if kind == RuleKind.COMPLETE and not all(is_ground(part) for part in path):
            raise self.fail(name_tok, "a default rule cannot have variables in its head")
        return Rule(kind, name_tok.text, path, args or (), None, value, assign, True, **position)

    def if_body(self) -> Body:
        """What follows `if`: a braced body or a single expression."""
        if self.is_op("{"):
            return self.block("rule body")
        if self.tok.kind == EOF:
            raise self.fail(self.tok, "expected a rule body after 'if'")
        return (self.literal(),)

    def else_clause(self) -> ElseClause:
        start = self.tok
        self.advance()
        value = assign = None
        if self.is_op(":=") or self.is_op("="):
            assign = self.tok.text
            self.advance()
            value = self.membership(True)
        elif not (self.is_kw("if") or self.is_op("{")):
            raise self.fail(self.tok, f"expected ':=', '=', 'if' or '{{' after 'else', found {self.tok.describe()}")
        body: Body = ()
        if self.is_kw("if"):
            self.advance()
            body = self.if_body()
        elif self.is_op("{"):
            if self.version == "v1":
                raise self.fail(self.tok, "Rego v1 needs 'if' before an else body")
            body = self.block("else body")
        return ElseClause(value, assign, body, line=start.line, col=start.col)

    def block(self, what: str) -> Body:
        opener = self.tok
        self.advance()
        return self.query("}", opener, what)

    # --- bodies and expressions ---

    def query(self, close: str, opener: Token, what: str) -> Body:
        """Expressions up to and including `close`, separated by newlines or `;`."""
        if self.is_op(close):
            raise self.fail(self.tok, f"empty {what}: write at least one expression")
        body: list[Expr] = []
        while True:
            start = self.tok
            body.append(self.literal())
            token = self.tok
            if token.kind == OP:
                if token.text == ";":
                    self.advance()
                    continue
                if token.text == close:
                    self.advance()
                    return tuple(body)
            if token.kind == EOF:
                raise self.close_error(close, opener, what)
            if not token.nl:
                if start.col == 1 and start.kind == NAME and (token.text == "{" or self.is_kw("if")):
                    # An unindented `name {` or `name if` inside a body: most likely a '}' is missing above it.
                    where = f"{opener.line}:{opener.col}"
                    raise self.fail(start, f"expected '{close}' to close the {what} opened at {where} before this rule")
                raise self.separator_error()

    def literal(self) -> Expr:
        start = self.tok
        negated = self.is_kw("not")
        if negated:
            self.advance()
            for word in ("some", "every"):
                if self.is_kw(word):
                    raise self.fail(self.tok, f"'not' cannot be applied to '{word}'")
        value: Term | Assignment | SomeDecl | SomeIn | Every
        if self.is_kw("some"):
            value = self.some()
        elif self.is_kw("every"):
            value = self.every()
        else:
            value = self.membership(True)
            if self.is_op(":=") or self.is_op("="):
                op = self.tok.text
                self.advance()
                value = Assignment(op, value, self.membership(True), line=value.line, col=value.col)
        withs: list[With] = []
        while self.is_kw("with"):
            withs.append(self.with_())
        return Expr(value, negated, tuple(withs), line=start.line, col=start.col)

    def some(self) -> SomeIn | SomeDecl:
        start = self.tok
        self.advance()
        if "in" in self.kw:
            save = self.i
            try:
                term: Term | None = self.membership(True)
            except RegoSyntaxError:
                term = None
            if isinstance(term, Membership):
                return SomeIn(term.key, term.value, term.collection, line=start.line, col=start.col)
            if isinstance(term, BinOp | Call):
                raise self.fail(start, "expected `x in xs` or `k, v in xs` after 'some'")
            self.goto(save)
        names: list[Var] = []
        while True:
            if not self.is_name(self.tok):
                raise self.fail(self.tok, f"expected a variable name after 'some', found {self.tok.describe()}")
            names.append(Var(self.tok.text, line=self.tok.line, col=self.tok.col))
            self.advance()
            if not self.is_op(","):
                return SomeDecl(tuple(names), line=start.line, col=start.col)
            self.advance()

    def every(self) -> Every:
        start = self.tok
        self.advance()
        term = self.membership(True)
        if not isinstance(term, Membership):
            raise self.fail(start, "expected `x in xs { ... }` or `k, v in xs { ... }` after 'every'")
        if term.key is not None and not isinstance(term.key, Var):
            raise self.fail(start, "the key of 'every' must be a variable")
        if not isinstance(term.value, Var):
            raise self.fail(start, "the value of 'every' must be a variable")
        if not self.is_op("{"):
            raise self.fail(self.tok, f"expected '{{' to start the body of 'every', found {self.tok.describe()}")
        body = self.block("'every' body")
        return Every(term.key, term.value, term.collection, body, line=start.line, col=start.col)

    def with_(self) -> With:
        start = self.tok
        self.advance()
        if not self.is_name(self.tok):
            raise self.fail(self.tok, f"expected a path after 'with' (e.g. input.x), found {self.tok.describe()}")
        target = self.term()
        if not (isinstance(target, Var) or (isinstance(target, Ref) and isinstance(target.head, Var))):
            raise self.fail(start, "the target of 'with' must be a path like input.x or data.y")
        if not self.is_kw("as"):
            raise self.fail(self.tok, f"expected 'as' after the 'with' target, found {self.tok.describe()}")
        self.advance()
        return With(target, self.membership(True), line=start.line, col=start.col)

    # --- terms, loosest binding first ---

    def membership(self, key_value: bool) -> Term:
        """`x in xs`, and `k, v in xs` where a comma cannot mean a list separator (`key_value`)."""
        left = self.binary()
        if key_value and self.is_op(",") and "in" in self.kw:
            save = self.i
            self.advance()
            try:
                middle: Term | None = self.binary()
            except RegoSyntaxError:
                middle = None
            if middle is not None and self.is_kw("in"):
                self.advance()
                left = Membership(left, middle, self.binary(), line=left.line, col=left.col)
            else:
                self.goto(save)
        while self.is_kw("in"):
            self.advance()
            left = Membership(None, left, self.binary(), line=left.line, col=left.col)
        return left

    def binary(self, min_precedence: int = 1) -> Term:
        """Infix operators by precedence climbing: operands bind to the operator that binds them tighter."""
        left = self.term()
        while self.tok.kind == OP:
            op = self.tok.text
            precedence = _PRECEDENCE.get(op, 0)
            if precedence < min_precedence:
                break
            self.advance()
            left = BinOp(op, left, self.binary(precedence + 1), line=left.line, col=left.col)
        return left

    def term(self) -> Term:
        tok = self.tok
        kind = tok.kind
        pos = {"line": tok.line, "col": tok.col}
        if kind == NAME:
            text = tok.text
            self.advance()
            if text in self.kw and text != "contains":  # v1 still allows `contains(...)`, the builtin
                if text in ("true", "false"):
                    return Boolean(text == "true", **pos)
                if text == "null":
                    return Null(**pos)
                raise self.fail(tok, f"unexpected keyword '{text}', expected a term")
            if text == "set" and self.touching("(") and self.toks[self.i + 1].text == ")":
                self.goto(self.i + 2)  # `set()`, the empty set
                return self.postfix(Set((), **pos))
            return self.postfix(Var(text, **pos))
        if kind == NUMBER:
            self.advance()
            return Number(self.check_number(tok, tok.text), **pos)
        if kind == STRING:
            self.advance()
            return self.postfix(String(decode_string(tok.text), text=tok.text, **pos))
        if kind == RAWSTRING:
            self.advance()
            return self.postfix(String(tok.text, text=tok.text, raw=True, **pos))
        if kind == TEMPLATE:
            return self.template()
        if kind == OP:
            text = tok.text
            if text == "[":
                return self.postfix(self.array())
            if text == "{":
                return self.postfix(self.braces())
            if text == "(":
                self.advance()
                inner = self.membership(True)
                self.expect_close(")", tok, "parenthesis")
                return self.postfix(inner)
            if text == "-":
                self.advance()
                return self.number_after(tok, "-")
            if text == "." and not self.toks[self.i + 1].ws and self.toks[self.i + 1].kind == NUMBER:
                return self.number_after(tok, "")
        if kind == EOF:
            raise self.fail(tok, "unexpected end of file, expected a term")
        raise self.fail(tok, f"unexpected {tok.describe()}, expected a term")

    def number_after(self, start: Token, sign: str) -> Number:
        """A number after a leading `-` and/or `.` (`-1`, `.5`, `-.5`)."""
        if self.is_op(".") and not self.toks[self.i + 1].ws and self.toks[self.i + 1].kind == NUMBER:
            sign += "."
            self.advance()
        if self.tok.kind != NUMBER or (sign.endswith(".") and self.tok.ws):
            raise self.fail(self.tok, "'-' must be followed by a number here; write `0 - x` to negate an expression")
        text = self.tok.text
        if sign.endswith(".") and "." in text:
            raise self.fail(self.tok, f"invalid number '{sign}{text}'")
        self.advance()
        if not sign.endswith("."):
            self.check_number(start, text)
        return Number(sign + text, line=start.line, col=start.col)

    def check_number(self, tok: Token, text: str) -> str:
        if len(text) > 1 and text[0] == "0" and text[1] not in ".eE":
            raise self.fail(tok, f"numbers cannot have leading zeros: {text}")
        return text

    def postfix(self, term: Term) -> Term:
        """`.name`, `[index]` and `(args)` touching a term make a reference or a call."""
        parts: list[Term] = []
        while self.touching(".", "[", "("):
            if not parts and not isinstance(term, _REF_HEADS):
                raise self.fail(self.tok, f"'{self.tok.text}' cannot follow {_describe_term(term)}")
            opener = self.tok
            self.advance()
            if opener.text == ".":
                if self.tok.kind != NAME or self.tok.ws:
                    raise self.fail(self.tok, f"expected a name after '.', found {self.tok.describe()}")
                parts.append(String(self.tok.text, text=self.tok.text, line=self.tok.line, col=self.tok.col))
                self.advance()
            elif opener.text == "[":
                parts.append(self.membership(True))
                self.expect_close("]", opener, "reference")
            else:
                name = self.call_name(term, parts, opener)
                args = self.term_list(")", opener, "call")
                term, parts = Call(name, args, line=term.line, col=term.col), []
        return Ref(term, tuple(parts), line=term.line, col=term.col) if parts else term

    def call_name(self, head: Term, parts: list[Term], at: Token) -> tuple[str, ...]:
        if isinstance(head, Var) and all(isinstance(part, String) for part in parts):
            return (head.name, *(part.value for part in parts))  # type: ignore[union-attr]
        raise self.fail(at, "only a name like f or x.y.f can be called")

    def term_list(self, close: str, opener: Token, what: str, items: list[Term] | None = None) -> tuple[Term, ...]:
        """Comma-separated terms up to and including `close` (a trailing comma is allowed)."""
        items = items if items is not None else []
        if self.is_op(close):
            self.advance()
            return tuple(items)
        while True:
            if self.tok.kind == EOF:
                raise self.close_error(close, opener, what)
            items.append(self.membership(False))
            if self.is_op(","):
                self.advance()
                if self.is_op(close):
                    self.advance()
                    return tuple(items)
                continue
            if self.is_op(close):
                self.advance()
                return tuple(items)
            if self.tok.kind == EOF:
                raise self.close_error(close, opener, what)
            raise self.fail(self.tok, f"expected ',' or '{close}' in the {what} opened at {opener.line}:{opener.col}")

    def array(self) -> Array | ArrayComprehension:
        opener = self.tok
        pos = {"line": opener.line, "col": opener.col}
        self.advance()
        if self.is_op("]"):
            self.advance()
            return Array((), **pos)
        may_be_comprehension = not self.is_op(",")
        if not may_be_comprehension:
            self.advance()  # OPA accepts a leading comma: [, a]
        save = self.i
        head = self.term()
        if self.is_op("]"):
            self.advance()
            return Array((head,), **pos)
        if self.is_op(","):
            self.advance()
            return Array(self.term_list("]", opener, "array", [head]), **pos)
        if self.is_op("|") and may_be_comprehension:
            self.advance()
            try:
                return ArrayComprehension(head, self.query("]", opener, "array comprehension"), **pos)
            except RegoSyntaxError:
                if not self.is_op(","):
                    raise
        self.goto(save)
        return Array(self.term_list("]", opener, "array"), **pos)

    def braces(self) -> Term:
        """`{}` (empty object), a set, an object, or a set/object comprehension."""
        opener = self.tok
        pos = {"line": opener.line, "col": opener.col}
        self.advance()
        if self.is_op("}"):
            self.advance()
            return Object((), **pos)
        may_be_comprehension = not self.is_op(",")
        if not may_be_comprehension:
            self.advance()
        save = self.i
        # A single term first, so that `{a | b}` is a comprehension rather than a set holding `a | b`.
        head = self.term()
        if self.is_op("|") and may_be_comprehension:
            self.advance()
            try:
                return SetComprehension(head, self.query("}", opener, "set comprehension"), **pos)
            except RegoSyntaxError:
                if not self.is_op(","):
                    raise
            self.goto(save)
            return Set(self.term_list("}", opener, "set"), **pos)
        if not (self.is_op("}") or self.is_op(",") or self.is_op(":")):
            self.goto(save)
            head = self.membership(False)
        if self.is_op("}"):
            self.advance()
            return Set((head,), **pos)
        if self.is_op(","):
            self.advance()
            return Set(self.term_list("}", opener, "set", [head]), **pos)
        if self.is_op(":"):
            return self.object_rest(head, opener, may_be_comprehension, pos)
        if self.tok.kind == EOF:
            raise self.close_error("}", opener, "set or object")
        where = f"{opener.line}:{opener.col}"
        raise self.fail(self.tok, f"expected ',', ':' or '}}' in the set or object opened at {where}")

    def object_rest(self, key: Term, opener: Token, may_be_comprehension: bool, pos: dict[str, int]) -> Term:
        self.advance()  # ':'
        save = self.i
        value = self.term()
        if may_be_comprehension:
            if self.is_op("}"):
                self.advance()
                return Object(((key, value),), **pos)
            if self.is_op("|"):
                self.advance()
                return ObjectComprehension(key, value, self.query("}", opener, "object comprehension"), **pos)
            if self.is_op(","):
                self.advance()
                return Object(self.pairs(opener, [(key, value)]), **pos)
        self.goto(save)
        value = self.membership(False)
        if self.is_op("}"):
            self.advance()
            return Object(((key, value),), **pos)
        if self.is_op(","):
            self.advance()
            return Object(self.pairs(opener, [(key, value)]), **pos)
        if self.tok.kind == EOF:
            raise self.close_error("}", opener, "object")
        raise self.fail(self.tok, f"expected ',' or '}}' in the object opened at {opener.line}:{opener.col}")

    def pairs(self, opener: Token, items: list[tuple[Term, Term]]) -> tuple[tuple[Term, Term], ...]:
        while not self.is_op("}"):
            key = self.membership(False)
            if not self.is_op(":"):
                raise self.fail(self.tok, f"expected ':' after an object key, found {self.tok.describe()}")
            self.advance()
            items.append((key, self.membership(False)))
            if self.is_op(","):
                self.advance()
            elif not self.is_op("}"):
                if self.tok.kind == EOF:
                    raise self.close_error("}", opener, "object")
                raise self.fail(self.tok, f"expected ',' or '}}' in the object opened at {opener.line}:{opener.col}")
        self.advance()
        return tuple(items)

    def template(self) -> TemplateString:
        start = self.tok
        parts: list[str | Term] = []
        while True:
            chunk = self.tok
            text = _template_text(chunk)
            if text:
                parts.append(text)
            self.advance()
            if chunk.closed:
                return TemplateString(tuple(parts), raw=start.raw, line=start.line, col=start.col)
            if self.tok.kind == TEMPLATE_PART:
                raise self.fail(self.tok, "empty '{}' in a template string: write an expression, or '\\{' for a brace")
            parts.append(self.membership(True))
            if self.tok.kind != TEMPLATE_PART:
                raise self.fail(self.tok, f"expected '}}' to end the template expression, found {self.tok.describe()}")


def _template_text(chunk: Token) -> str:
    if chunk.raw:
        return chunk.text.replace("\\{", "{")
    return decode_string(chunk.text, template=True)


def _describe_term(term: Term) -> str:
    if isinstance(term, String):
        return "a string"
    if isinstance(term, Number):
        return "a number"
    if isinstance(term, Boolean | Null):
        return "a literal"
    if isinstance(term, Ref):
        return "a parenthesised reference"
    return "an expression in parentheses"


def parse_module(source: str, *, version: str, filename: str) -> Module:
    """Parse one Rego module written in `version` ("v0" or "v1"); raises RegoSyntaxError."""
    if version not in ("v0", "v1"):
        raise ValueError(f"unknown Rego version {version!r}: expected 'v0' or 'v1'")
    return _Parser(tokenize(source, filename), version, filename).module()
