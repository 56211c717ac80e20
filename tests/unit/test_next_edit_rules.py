"""Next-edit rules on literal before/after buffers: the user's edit is recorded in an edit
history as the server records it, and the rules' proposals applied to the buffer."""

from __future__ import annotations

import textwrap

from lsp_server.documents import Document
from lsp_server.edits.history import EditHistory
from lsp_server.nextedit import rules, siblings
from lsp_server.nextedit.proposal import Proposal

LANGUAGE_IDS = {".py": "python", ".js": "javascript", ".ts": "typescript"}


def _doc(name: str, text: str, version: int = 1) -> Document:
    return Document(f"file:///w/{name}", LANGUAGE_IDS[name[name.rindex("."):]], version, textwrap.dedent(text))


def propose(before: str, after: str, name: str = "a.py", others: dict[str, str] | None = None) -> tuple[str, list[Proposal]]:
    """The proposals after `before` became `after` in `name` (others: more open buffers)."""
    doc = _doc(name, after, 2)
    history = EditHistory()
    history.record_versions(doc.uri, textwrap.dedent(before), doc.text, 1.0)
    buffers = {doc.uri: doc.snapshot()}
    for other, text in (others or {}).items():
        d = _doc(other, text)
        buffers[d.uri] = d.snapshot()
    return doc.text, rules.propose(history.recent(1.0), buffers)


def applied(text: str, proposals: list[Proposal]) -> str:
    for p in sorted(proposals, key=lambda p: -p.start):
        text = p.apply(text)
    return text


# -- rename -------------------------------------------------------------------------------

def test_rename_at_definition_proposes_the_other_references_in_scope():
    text, found = propose("""\
        def area(width, height):
            scale = 2
            total = width * height
            return total * scale

        def other(width):
            return width
        """, """\
        def area(w, height):
            scale = 2
            total = width * height
            return total * scale

        def other(width):
            return width
        """)
    assert [p.rule for p in found] == ["rename"]
    assert applied(text, found).startswith("def area(w, height):\n    scale = 2\n    total = w * height\n")
    assert "def other(width):\n    return width" in applied(text, found)


def test_rename_at_one_use_proposes_the_definition_and_other_uses():
    text, found = propose("""\
        def load(path):
            data = read(path)
            check(data)
            return data
        """, """\
        def load(path):
            data = read(path)
            check(content)
            return data
        """)
    assert {p.rule for p in found} == {"rename"}
    assert applied(text, found) == textwrap.dedent("""\
        def load(path):
            content = read(path)
            check(content)
            return content
        """)


def test_a_name_already_bound_in_scope_is_not_a_rename():
    _, found = propose("""\
        def f(a, b):
            x = a + 1
            return a
        """, """\
        def f(a, b):
            x = b + 1
            return a
        """)
    assert [p for p in found if p.rule == "rename"] == []


def test_rename_leaves_attributes_keywords_and_shadowing_scopes_alone():
    text, found = propose("""\
        def run(items):
            self.items = items
            call(items=items)
            def inner(items):
                return items
            return len(items)
        """, """\
        def run(rows):
            self.items = items
            call(items=items)
            def inner(items):
                return items
            return len(items)
        """)
    assert applied(text, found) == textwrap.dedent("""\
        def run(rows):
            self.items = rows
            call(items=rows)
            def inner(items):
                return items
            return len(rows)
        """)


def test_rename_in_javascript():
    text, found = propose("""\
        function total(list) {
          let sum = 0;
          for (const x of list) sum += x;
          return sum;
        }
        """, """\
        function total(list) {
          let acc = 0;
          for (const x of list) sum += x;
          return sum;
        }
        """, name="a.js")
    assert applied(text, found) == textwrap.dedent("""\
        function total(list) {
          let acc = 0;
          for (const x of list) acc += x;
          return acc;
        }
        """)


# -- signature ----------------------------------------------------------------------------

def test_removed_parameter_drops_the_argument_at_call_sites_in_open_buffers():
    text, found = propose("""\
        def send(host, port, retries):
            pass
        """, """\
        def send(host, retries):
            pass
        """, others={"b.py": """\
        from a import send
        send("h", 80, 3)
        send("h", port=80, retries=3)
        send("h", 3)
        """})
    assert {p.rule for p in found} == {"signature"}
    other = next(iter({p.uri for p in found}))
    assert other.endswith("b.py")
    b = _doc("b.py", """\
        from a import send
        send("h", 80, 3)
        send("h", port=80, retries=3)
        send("h", 3)
        """).text
    assert applied(b, found) == 'from a import send\nsend("h", 3)\nsend("h", retries=3)\nsend("h", 3)\n'


def test_method_calls_skip_self_and_added_parameters_propose_nothing():
    text, found = propose("""\
        class Box:
            def put(self, item, quiet):
                pass

        Box().put(1, True)
        """, """\
        class Box:
            def put(self, item):
                pass

        Box().put(1, True)
        """)
    assert applied(text, found).endswith("Box().put(1)\n")
    _, added = propose("def f(a):\n    pass\nf(1)\n", "def f(a, b):\n    pass\nf(1)\n")
    assert added == []


def test_javascript_parameter_removed():
    text, found = propose("function log(level, msg) {}\nlog(1, 'x');\nthis.log(2, 'y');\n",
                          "function log(msg) {}\nlog(1, 'x');\nthis.log(2, 'y');\n", name="a.js")
    assert applied(text, found) == "function log(msg) {}\nlog('x');\nthis.log('y');\n"


# -- siblings -----------------------------------------------------------------------------

def test_analogous_change_on_the_next_sibling_line():
    text, found = propose("""\
        def setup(app):
            app.add_url_rule("/a", view_a)
            app.add_url_rule("/b", view_b)
            app.add_url_rule("/c", view_c)
        """, """\
        def setup(app):
            app.add_url_rule("/a", view_a, methods=["GET"])
            app.add_url_rule("/b", view_b)
            app.add_url_rule("/c", view_c)
        """)
    assert [p.rule for p in found] == ["siblings"]
    assert applied(text, found).splitlines()[2] == '    app.add_url_rule("/b", view_b, methods=["GET"])'


def test_sibling_copies_the_varying_part_into_the_change():
    assert siblings.analogous("    foo(a)", "    foo(a, a.name)", "    foo(b)") == "    foo(b, b.name)"
    assert siblings.analogous("    self.a = a", "    self._a = a", "    self.b = b") == "    self._b = b"
    assert siblings.analogous("x = 1", "x = 2", "y = 5") is None  # the changed literal is not the sibling's
    assert siblings.analogous("a = f(x)", "a = f(x, 1)", "b = f(y)") == "b = f(y, 1)"
    assert siblings.analogous("a = f(x)", "a = f(x, 1)", "b  = f(y)") is None  # spaced otherwise: not the same shape
    assert siblings.analogous("    if a:", "    if a and b:", "    return a") is None
    # `a` stands for both `b` and `c` of the sibling: which one the new `a` means is not known
    assert siblings.analogous("    f(a, a)", "    f(a, a, a)", "    f(b, c)") is None


def test_dict_entries_are_siblings_and_imports_are_not():
    text, found = propose("""\
        CONFIG = {
            "host": env("HOST"),
            "port": env("PORT"),
        }
        """, """\
        CONFIG = {
            "host": env("HOST", default=None),
            "port": env("PORT"),
        }
        """)
    assert applied(text, found).splitlines()[2] == '    "port": env("PORT", default=None),'
    _, imports = propose("import os\nimport sys\n", "import os.path\nimport sys\n")
    assert imports == []


def test_a_proposal_that_breaks_the_parse_is_dropped():
    _, found = propose("""\
        x = [
            f(a),
            f(b),
        ]
        """, """\
        x = [
            f(a)),
            f(b),
        ]
        """)
    assert found == []


def test_a_second_rename_on_a_row_renamed_before_is_proposed():
    """One row edited twice is one hunk: `width` renamed (and its uses), then `height`."""
    v0 = "def area(width, height):\n    return width * height\n"
    v1 = "def area(size, height):\n    return width * height\n"
    v2 = "def area(size, height):\n    return size * height\n"
    v3 = "def area(size, h):\n    return size * height\n"
    doc = _doc("a.py", v3, 4)
    history = EditHistory()
    history.record(doc.uri, v0, v1, 1.0)
    history.record(doc.uri, v1, v2, 2.0)
    history.record(doc.uri, v2, v3, 3.0)
    found = rules.propose(history.recent(3.0), {doc.uri: doc.snapshot()})
    assert [p.source for p in found] == ["height -> h"]
    assert applied(v3, found) == "def area(size, h):\n    return size * h\n"


# -- repeat -------------------------------------------------------------------------------

def test_a_change_made_twice_is_proposed_ahead_where_the_same_text_is():
    v0 = textwrap.dedent("""\
        from typing import Iterable, Sequence

        def head(items: Sequence[str]) -> str:
            return items[0]

        def first(items: Sequence[str]) -> str:
            return items[0]

        def last(items: Sequence[str]) -> str:
            return items[-1]

        def middle(items: Sequence[str]) -> str:
            return items[len(items) // 2]
        """)
    v1 = v0.replace("first(items: Sequence", "first(items: Iterable")
    v2 = v1.replace("last(items: Sequence", "last(items: Iterable")
    doc = _doc("a.py", v2, 3)
    history = EditHistory()
    history.record(doc.uri, v0, v1, 1.0)
    assert rules.propose(history.recent(1.0), {doc.uri: _doc("a.py", v1, 2).snapshot()}) == []  # one place: no series
    history.record(doc.uri, v1, v2, 2.0)
    found = rules.propose(history.recent(2.0), {doc.uri: doc.snapshot()})
    assert [p.rule for p in found] == ["repeat"]  # not a rename: Iterable is bound already
    text = applied(v2, found)
    assert "def middle(items: Iterable[str]) -> str:" in text  # ahead of the series, which goes down
    assert "def head(items: Sequence[str])" in text  # passed over: left as it is
    assert "import Iterable, Sequence" in text  # another context: left alone


def test_repeat_needs_context_and_more_than_punctuation():
    _, found = propose("f(a, b)\nf(a, b)\n", "f(a, b,)\nf(a, b)\n")
    assert found == []


def test_a_member_renamed_at_one_place_is_renamed_in_its_class():
    text, found = propose("""\
        class Box:
            def __init__(self):
                self.size = 0

            def grow(self):
                self.size += 1
                return self.size
        """, """\
        class Box:
            def __init__(self):
                self.count = 0

            def grow(self):
                self.size += 1
                return self.size
        """)
    assert applied(text, found).count("self.count") == 3 and "size" not in applied(text, found)


def test_a_whole_row_replaced_by_the_editor_is_the_edit_of_that_row_only():
    """Editors replace whole rows (range to the next row's start): the row after, unchanged,
    is not part of the hunk, so the rename is proposed there."""
    old = "def area(width, height):\n    return width * height\n"
    new = "def area(w, height):\n    return width * height\n"
    doc = _doc("a.py", new, 2)
    history = EditHistory()
    row = "def area(w, height):\n"
    history.record(doc.uri, old, new, 1.0, (0, len("def area(width, height):\n"), len(row)))
    (hunk,) = history.recent(1.0)
    assert (hunk.start, hunk.before, hunk.after) == (0, ("def area(width, height):",), ("def area(w, height):",))
    found = rules.propose(history.recent(1.0), {doc.uri: doc.snapshot()})
    assert applied(new, found) == "def area(w, height):\n    return w * height\n"


def test_repeat_keeps_names_meaning_something_and_stays_in_code():
    v0 = textwrap.dedent("""\
        app.get('/a', function (req, res, next) { res.send('a'); });

        app.get('/b', function (req, res, next) { res.send('b'); });

        app.get('/c', function (req, res, next) { next(); });

        /* app.get('/d', function (req, res, next) { res.send('d'); }); */

        app.get('/e', function (req, res, next) { res.send('e'); });
        """)
    v1 = v0.replace("'/a', function (req, res, next)", "'/a', function (req, res)")
    v2 = v1.replace("'/b', function (req, res, next)", "'/b', function (req, res)")
    doc = _doc("a.js", v2, 3)
    history = EditHistory()
    history.record(doc.uri, v0, v1, 1.0)
    history.record(doc.uri, v1, v2, 2.0)
    found = rules.propose(history.recent(2.0), {doc.uri: doc.snapshot()})
    text = applied(v2, found)
    assert "'/e', function (req, res) {" in text
    assert "'/c', function (req, res, next) { next(); }" in text  # its body reads next
    assert "/* app.get('/d', function (req, res, next)" in text  # a comment: the change was made in code


def test_repeat_changes_only_a_parameter_list_that_was_the_same():
    """`next` dropped from two (req, res, next) handlers: not from an error handler's
    (err, req, res, next), whose arity Express reads (express 3c1d605d, examples/web-service)."""
    v0 = textwrap.dedent("""\
        app.get('/a', function(req, res, next){ res.send('a'); });

        app.get('/b', function(req, res, next){ res.send('b'); });

        app.use(function(err, req, res, next){ res.send(err.message); });

        app.get('/c', function(req, res, next){ res.send('c'); });
        """)
    v1 = v0.replace("'/a', function(req, res, next){", "'/a', function(req, res){")
    v2 = v1.replace("'/b', function(req, res, next){", "'/b', function(req, res){")
    doc = _doc("a.js", v2, 3)
    history = EditHistory()
    history.record(doc.uri, v0, v1, 1.0)
    history.record(doc.uri, v1, v2, 2.0)
    text = applied(v2, rules.propose(history.recent(2.0), {doc.uri: doc.snapshot()}))
    assert "app.get('/c', function(req, res){" in text
    assert "app.use(function(err, req, res, next){" in text
