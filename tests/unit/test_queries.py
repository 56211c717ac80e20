"""grammars/<lang>/{tags,locals,imports}.scm: every file compiles, and on a realistic sample
per language the queries find exactly the expected definitions, scopes and imports."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import tree_sitter

from lsp_server.context.languages import grammar_names, new_parser
from lsp_server.context.queries import KINDS, captures, query, query_source

GRAMMARS = Path(__file__).resolve().parents[2] / "grammars"

DEFINITION_KINDS = {"function", "method", "class", "interface", "type", "constant", "module", "macro"}
CAPTURE_NAMES = (
    {f"definition.{kind}" for kind in DEFINITION_KINDS}
    | {"name", "local.scope", "local.block", "local.definition", "local.reference", "import", "import.module"}
)


@dataclasses.dataclass
class Sample:
    source: str
    # (kind, name) of every definition; a list so that duplicates would show
    tags: list[tuple[str, str]]
    # 1-based line -> (type, name) of the innermost @local.scope around it, and the type
    # of the innermost @local.block around it (None: no block around that line)
    scope_at: int
    scope: tuple[str, str]
    block: str | None
    # number of import statements, and the module names they capture
    import_count: int
    modules: set[str]


SAMPLES: dict[str, Sample] = {}

SAMPLES["python"] = Sample(
    source='''\
from __future__ import annotations

import os, json
from collections import deque
from .models import Task as TaskModel

MAX_WORKERS = 4
registry: dict[str, "Worker"] = {}


class Worker:
    def __init__(self, name):
        self.name = name
        self.queue = deque()

    @property
    def busy(self):
        return bool(self.queue)

    def run(self, task):
        with open(os.devnull) as sink:
            for step in task.steps:
                if step.skip:
                    continue
                sink.write(json.dumps(step))


def schedule(tasks, workers=MAX_WORKERS):
    def pick(task):
        return min(workers, key=lambda w: len(w.queue))
    try:
        return [pick(t) for t in tasks]
    except ValueError:
        return []


if os.environ.get("DEBUG"):
    def trace(msg):
        print(msg)
''',
    tags=[
        ("constant", "MAX_WORKERS"),
        ("constant", "registry"),
        ("class", "Worker"),
        ("method", "__init__"),
        ("method", "busy"),
        ("method", "run"),
        ("function", "schedule"),
        ("function", "pick"),
        ("function", "trace"),
    ],
    scope_at=25,  # sink.write(...)
    scope=("function_definition", "run"),
    block="for_statement",
    import_count=4,
    modules={"os", "json", "collections", ".models"},
)

SAMPLES["javascript"] = Sample(
    source="""\
import fs from "fs";
import { join } from "node:path";
const util = require("util");
require("./polyfill");

const MAX_RETRIES = 3;
let counter = 0;

function parse(text) {
  if (text) {
    for (const line of text.split("\\n")) {
      counter += 1;
    }
  }
  return text;
}

function* ids() { yield 1; }

class Server extends Base {
  constructor(port) { super(); this.port = port; }
  start() { return () => this.port; }
}

const handler = (req) => req.body;
var legacy = function () {};
const Widget = class {};

exports.load = function (path) { return fs.readFileSync(path); };
module.exports.save = (path, data) => fs.writeFileSync(path, data);
Server.prototype.stop = function () {};
app.handle = function handle(req, res) {};

const api = {
  get() { return 1; },
  post: function (body) { return body; },
};
""",
    tags=[
        ("constant", "MAX_RETRIES"),
        ("function", "parse"),
        ("function", "ids"),
        ("class", "Server"),
        ("method", "constructor"),
        ("method", "start"),
        ("function", "handler"),
        ("function", "legacy"),
        ("class", "Widget"),
        ("function", "load"),
        ("function", "save"),
        ("method", "stop"),
        ("function", "handle"),
        ("constant", "api"),
        ("method", "get"),
        ("method", "post"),
    ],
    scope_at=12,  # counter += 1
    scope=("function_declaration", "parse"),
    block="for_in_statement",
    import_count=4,
    modules={"fs", "node:path", "util", "./polyfill"},
)

SAMPLES["typescript"] = Sample(
    source="""\
import { readFile } from "fs/promises";
import type { Config } from "./config";
import fs = require("fs");
import Utils = Shared.Utils;
export { helper } from "./helper";

export const DEFAULT_PORT = 8080;
const names = ["a", "b"] as const;

export interface Handler {
  handle(req: Request): Promise<Response>;
}

type Callback = (err: Error | null) => void;
enum Level { Debug, Info }

declare function log(msg: string): void;

export abstract class BaseServer implements Handler {
  abstract listen(port: number): void;
  async route(req: Request): Promise<Response> {
    try {
      return await this.dispatch(req);
    } catch (e) {
      throw e;
    }
  }
}

namespace Shared {
  export function format(value: unknown): string { return String(value); }
}

export const createServer = (port: number): Server => new Server(port);
class Server { constructor(private port: number) {} }
""",
    tags=[
        ("constant", "DEFAULT_PORT"),
        ("constant", "names"),
        ("interface", "Handler"),
        ("method", "handle"),
        ("type", "Callback"),
        ("type", "Level"),
        ("function", "log"),
        ("class", "BaseServer"),
        ("method", "listen"),
        ("method", "route"),
        ("module", "Shared"),
        ("function", "format"),
        ("function", "createServer"),
        ("class", "Server"),
        ("method", "constructor"),
    ],
    scope_at=23,  # return await this.dispatch(req)
    scope=("method_definition", "route"),
    block="try_statement",
    import_count=5,
    modules={"fs/promises", "./config", "fs", "Shared.Utils", "./helper"},
)

SAMPLES["tsx"] = Sample(
    source="""\
import React, { useState } from "react";
import type { Theme } from "./theme";

export const PAGE_SIZE = 20;

interface Props {
  title: string;
  onClose(): void;
}

type Size = "sm" | "lg";

export function Dialog({ title, onClose }: Props) {
  const [open, setOpen] = useState(true);
  if (!open) {
    return null;
  }
  return <div className="dialog" onClick={() => setOpen(false)}>{title}</div>;
}

export const Button = (props: { label: string }) => <button>{props.label}</button>;

class Panel extends React.Component<Props> {
  render() {
    return <section>{this.props.title}</section>;
  }
}
""",
    tags=[
        ("constant", "PAGE_SIZE"),
        ("interface", "Props"),
        ("method", "onClose"),
        ("type", "Size"),
        ("function", "Dialog"),
        ("function", "Button"),
        ("class", "Panel"),
        ("method", "render"),
    ],
    scope_at=16,  # return null
    scope=("function_declaration", "Dialog"),
    block="if_statement",
    import_count=2,
    modules={"react", "./theme"},
)

SAMPLES["rust"] = Sample(
    source="""\
use std::collections::HashMap;
use std::io::{self, Read};
extern crate serde;

pub const MAX_SIZE: usize = 1024;
static GREETING: &str = "hello";

pub struct Cache {
    items: HashMap<String, Vec<u8>>,
}

pub enum Event { Hit, Miss }
union Bits { i: u32, f: f32 }
type Result<T> = std::result::Result<T, io::Error>;

pub trait Store {
    fn get(&self, key: &str) -> Option<&[u8]>;
    fn len(&self) -> usize { 0 }
}

impl Cache {
    fn lookup(&self, key: &str) -> Option<&[u8]> {
        match self.items.get(key) {
            Some(v) => Some(v.as_slice()),
            None => None,
        }
    }
}

mod tests {
    fn helper() {}
}

macro_rules! square { ($x:expr) => { $x * $x }; }

fn main() {
    let add = |a: i32, b: i32| a + b;
    for i in 0..3 { println!("{}", add(i, 1)); }
}
""",
    tags=[
        ("constant", "MAX_SIZE"),
        ("constant", "GREETING"),
        ("type", "Cache"),
        ("type", "Event"),
        ("type", "Bits"),
        ("type", "Result"),
        ("interface", "Store"),
        ("method", "get"),
        ("method", "len"),
        ("method", "lookup"),
        ("module", "tests"),
        ("function", "helper"),
        ("macro", "square"),
        ("function", "main"),
    ],
    scope_at=24,  # Some(v) => ...
    scope=("function_item", "lookup"),
    block="match_expression",
    import_count=3,
    modules={"std::collections::HashMap", "std::io", "serde"},
)

SAMPLES["go"] = Sample(
    source="""\
package server

import "fmt"

import (
	"net/http"
	str "strings"
)

const MaxConns = 100

var (
	defaultName = "sokuji"
	verbose     bool
)

type Server struct {
	Addr string
}

type Handler interface {
	Serve(w http.ResponseWriter, r *http.Request)
}

type ID int

func New(addr string) *Server {
	return &Server{Addr: str.TrimSpace(addr)}
}

func (s *Server) Start() error {
	for i := 0; i < 3; i++ {
		if err := s.listen(); err != nil {
			fmt.Println(err)
		}
	}
	handler := func() { fmt.Println("done") }
	handler()
	return nil
}
""",
    tags=[
        ("constant", "MaxConns"),
        ("constant", "defaultName"),
        ("constant", "verbose"),
        ("class", "Server"),
        ("interface", "Handler"),
        ("type", "ID"),
        ("function", "New"),
        ("method", "Start"),
    ],
    scope_at=34,  # fmt.Println(err)
    scope=("method_declaration", "Start"),
    block="if_statement",
    import_count=2,
    modules={"fmt", "net/http", "strings"},
)

SAMPLES["c"] = Sample(
    source="""\
#include <stdio.h>
#include "list.h"

#define BUFFER_SIZE 256
#define MAX(a, b) ((a) > (b) ? (a) : (b))

struct node {
    int value;
    struct node *next;
};

union number { int i; float f; };
enum color { RED, GREEN, BLUE };
typedef unsigned long size_type;
typedef int (*compare_fn)(const void *, const void *);

char *duplicate(const char *text);

int count_nodes(const struct node *head) {
    int n = 0;
    while (head != NULL) {
        n++;
        head = head->next;
    }
    return n;
}

static char **split_lines(char *text, int *count) {
    if (text == NULL) {
        return NULL;
    }
    return NULL;
}
""",
    tags=[
        ("constant", "BUFFER_SIZE"),
        ("macro", "MAX"),
        ("type", "node"),
        ("type", "number"),
        ("type", "color"),
        ("type", "size_type"),
        ("type", "compare_fn"),
        ("function", "duplicate"),
        ("function", "count_nodes"),
        ("function", "split_lines"),
    ],
    scope_at=23,  # head = head->next
    scope=("function_definition", "count_nodes"),
    block="while_statement",
    import_count=2,
    modules={"<stdio.h>", "list.h"},
)

SAMPLES["cpp"] = Sample(
    source="""\
#include <string>
#include <vector>
#include "widget.hpp"
using std::string;
using namespace std;

#define LOG_LEVEL 2

namespace app {

struct Point { int x; int y; };

class Widget : public Base {
public:
    Widget(int id) : id_(id) {}
    ~Widget();
    void draw() const;
    int id() const { return id_; }
private:
    int id_;
};

void Canvas::paint() const {
    for (int i = 0; i < 3; ++i) {
        render(i);
    }
}

template <typename T>
T clamp(T v, T lo, T hi) { return v < lo ? lo : (v > hi ? hi : v); }

}  // namespace app

int main() { auto f = [](int x) { return x * 2; }; return f(1); }
""",
    tags=[
        ("constant", "LOG_LEVEL"),
        ("module", "app"),
        ("type", "Point"),
        ("class", "Widget"),
        ("method", "Widget"),
        ("method", "~Widget"),
        ("method", "draw"),
        ("method", "id"),
        ("method", "paint"),
        ("function", "clamp"),
        ("function", "main"),
    ],
    scope_at=25,  # render(i)
    scope=("function_definition", "Canvas::paint"),  # Canvas is declared in widget.hpp
    block="for_statement",
    import_count=5,
    modules={"<string>", "<vector>", "widget.hpp", "std::string", "std"},
)

SAMPLES["java"] = Sample(
    source="""\
package com.example.store;

import java.util.List;
import java.util.Map;
import static java.util.Objects.requireNonNull;
import java.io.*;

public class Inventory {
    public static final int MAX_ITEMS = 100;
    private final Map<String, Integer> counts;

    public Inventory(Map<String, Integer> counts) {
        this.counts = requireNonNull(counts);
    }

    public int total() {
        int sum = 0;
        for (int value : counts.values()) {
            sum += value;
        }
        return sum;
    }

    interface Listener {
        void onChange(String key);
    }

    enum Status { ACTIVE, RETIRED }

    record Item(String name, int quantity) {}

    @interface Audited {}
}
""",
    tags=[
        ("class", "Inventory"),
        ("constant", "MAX_ITEMS"),
        ("constant", "counts"),
        ("method", "Inventory"),
        ("method", "total"),
        ("interface", "Listener"),
        ("method", "onChange"),
        ("type", "Status"),
        ("class", "Item"),
        ("interface", "Audited"),
    ],
    scope_at=19,  # sum += value
    scope=("method_declaration", "total"),
    block="enhanced_for_statement",
    import_count=5,  # the package declaration counts
    modules={"java.util.List", "java.util.Map", "java.util.Objects.requireNonNull", "java.io"},
)

SAMPLES["ruby"] = Sample(
    source="""\
require "json"
require_relative "lib/helpers"
load "tasks.rb"

VERSION = "1.2.0"

module Billing
  TAX_RATE = 0.2

  class Invoice < Base
    def initialize(lines)
      @lines = lines
    end

    def total
      @lines.sum do |line|
        if line.taxable?
          line.amount * (1 + TAX_RATE)
        else
          line.amount
        end
      end
    end

    def self.parse(text)
      new(JSON.parse(text))
    end
  end
end

def main
  puts Billing::Invoice.parse("[]").total
end
""",
    tags=[
        ("constant", "VERSION"),
        ("module", "Billing"),
        ("constant", "TAX_RATE"),
        ("class", "Invoice"),
        ("method", "initialize"),
        ("method", "total"),
        ("method", "parse"),
        ("function", "main"),
    ],
    scope_at=18,  # line.amount * (1 + TAX_RATE)
    scope=("do_block", None),  # the block passed to sum, inside `def total`
    block="if",
    import_count=3,
    modules={"json", "lib/helpers", "tasks.rb"},
)

SAMPLES["bash"] = Sample(
    source="""\
#!/usr/bin/env bash
set -euo pipefail

source ./lib/common.sh
. "$HOME/.config/deploy.env"

LOG_DIR=/var/log/deploy
export RELEASE="v1.4"
readonly RETRIES=3

log() {
    echo "[$(date +%T)] $*" >> "$LOG_DIR/deploy.log"
}

function deploy {
    local target="$1"
    for host in "$@"; do
        if ! ssh "$host" true; then
            log "unreachable: $host"
            continue
        fi
        case "$target" in
            prod) log "prod deploy" ;;
            *) log "staging deploy" ;;
        esac
    done
}

deploy "$@"
""",
    tags=[
        ("constant", "LOG_DIR"),
        ("constant", "RELEASE"),
        ("constant", "RETRIES"),
        ("function", "log"),
        ("function", "deploy"),
    ],
    scope_at=20,  # log "unreachable: $host"
    scope=("function_definition", "deploy"),
    block="if_statement",
    import_count=2,
    modules={"./lib/common.sh", '"$HOME/.config/deploy.env"'},
)

SAMPLES["lua"] = Sample(
    source="""\
local json = require("cjson")
local util = require "lib.util"
require("strict")

local MAX_DEPTH = 8
local M = {}

function M.encode(value)
  return json.encode(value)
end

function M:reset()
  self.cache = {}
end

local function walk(node, depth)
  if depth > MAX_DEPTH then
    return nil
  end
  for _, child in ipairs(node.children) do
    walk(child, depth + 1)
  end
end

local trim = function(s) return (s:gsub("^%s+", "")) end
M.decode = function(text) return json.decode(text) end

function setup() end

return M
""",
    tags=[
        ("constant", "MAX_DEPTH"),
        ("constant", "M"),
        ("function", "encode"),
        ("method", "reset"),
        ("function", "walk"),
        ("function", "trim"),
        ("function", "decode"),
        ("function", "setup"),
    ],
    scope_at=21,  # walk(child, depth + 1)
    scope=("function_declaration", "walk"),
    block="for_statement",
    import_count=3,
    modules={"cjson", "lib.util", "strict"},
)


def parse(language: str, source: str) -> tree_sitter.Tree:
    parser = new_parser(language)
    assert parser is not None, f"no grammar for {language}"
    return parser.parse(source.encode())


def text(node: tree_sitter.Node) -> str:
    return node.text.decode()


def definitions(language: str, tree: tree_sitter.Tree) -> list[tuple[str, tree_sitter.Node, tree_sitter.Node]]:
    """(kind, definition node, name node) for every tags match."""
    found = []
    for _, match in captures(language, "tags", tree.root_node):
        kinds = [name for name in match if name.startswith("definition.")]
        assert len(kinds) == 1, f"{language}: a tags match needs exactly one @definition.*: {match}"
        (definition,) = match[kinds[0]]
        assert len(match.get("name", [])) == 1, f"{language}: a tags match needs exactly one @name: {match}"
        found.append((kinds[0].removeprefix("definition."), definition, match["name"][0]))
    return found


def innermost(nodes: list[tree_sitter.Node], row: int) -> tree_sitter.Node | None:
    around = [n for n in nodes if n.start_point[0] <= row <= n.end_point[0]]
    return min(around, key=lambda n: n.end_byte - n.start_byte, default=None)


def scope_name(scope: tree_sitter.Node) -> str | None:
    """The `name` field's text, or for C-like functions the innermost declarator's."""
    name = scope.child_by_field_name("name")
    if name is None:
        node = scope
        while (inner := node.child_by_field_name("declarator")) is not None:
            node = inner
        name = node if node is not scope else None
    return text(name) if name is not None else None


def test_every_grammar_has_a_folder_and_a_sample():
    folders = {p.name for p in GRAMMARS.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders == set(grammar_names())
    assert set(SAMPLES) == set(grammar_names())
    for language in grammar_names():
        for kind in KINDS:
            assert (GRAMMARS / language / f"{kind}.scm").is_file(), f"missing grammars/{language}/{kind}.scm"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_query_compiles(language, kind):
    assert query(language, kind) is not None, f"grammars/{language}/{kind}.scm does not compile"


def test_inheritance():
    for language, parent in [("typescript", "javascript"), ("tsx", "typescript"), ("cpp", "c")]:
        for kind in KINDS:
            own = (GRAMMARS / language / f"{kind}.scm").read_text()
            assert own.startswith(f"; inherits: {parent}\n")
            assert query_source(parent, kind) in query_source(language, kind)
    # a javascript pattern reaches tsx through typescript
    assert "generator_function_declaration" in query_source("tsx", "tags")


def strip_comments(source: str) -> str:
    """The query text without `;` comments (a `;` inside a string literal is kept)."""
    out = []
    for line in source.splitlines():
        in_string, escaped = False, False
        for i, ch in enumerate(line):
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = not in_string
            elif ch == ";" and not in_string:
                line = line[:i]
                break
        out.append(line)
    return "\n".join(out)


def test_only_documented_capture_names():
    files = sorted(GRAMMARS.glob("*/*.scm"))
    assert len(files) == 3 * len(grammar_names())
    used = set()
    for path in files:
        for name in re.findall(r"@([\w.]+)", strip_comments(path.read_text())):
            if name.startswith("_"):
                continue  # predicate helpers
            assert name in CAPTURE_NAMES, f"{path.relative_to(GRAMMARS)}: undocumented capture @{name}"
            used.add(name)
    assert used == CAPTURE_NAMES
    # and the README documents exactly these
    readme = (GRAMMARS / "README.md").read_text()
    documented = set(re.findall(r"^\| `@([\w.]+)` \|", readme, re.MULTILINE))
    assert documented == CAPTURE_NAMES


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_tags(language):
    sample = SAMPLES[language]
    assert 15 <= sample.source.count("\n") <= 40
    expected = sample.tags
    assert len(set(expected)) == len(expected), "duplicate in the expected set"
    assert {kind for kind, _ in expected} <= DEFINITION_KINDS
    found = definitions(language, parse(language, sample.source))
    pairs = sorted((kind, text(name)) for kind, _, name in found)
    assert pairs == sorted(expected)
    assert len(found) == len(expected)
    # one kind per node: no definition is reported twice (e.g. a method also as a function)
    nodes = [(definition.start_byte, definition.end_byte, definition.type) for _, definition, _ in found]
    assert len(set(nodes)) == len(nodes)
    for kind, definition, name in found:
        assert definition.start_byte <= name.start_byte and name.end_byte <= definition.end_byte, (
            f"{language}: @name {text(name)!r} is outside its @definition.{kind}"
        )


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_locals(language):
    sample = SAMPLES[language]
    tree = parse(language, sample.source)
    scopes, blocks = [], []
    for _, match in captures(language, "locals", tree.root_node):
        assert set(match) <= {"local.scope", "local.block", "local.definition", "local.reference"}
        scopes += match.get("local.scope", [])
        blocks += match.get("local.block", [])
    row = sample.scope_at - 1
    scope = innermost(scopes, row)
    assert scope is not None
    assert (scope.type, scope_name(scope)) == sample.scope
    block = innermost([b for b in blocks if scope.start_byte <= b.start_byte and b.end_byte <= scope.end_byte], row)
    assert (block.type if block else None) == sample.block
    # the top level of the file is no scope
    assert tree.root_node not in scopes


# Definitions and references (locals.scm, python / javascript / typescript / tsx): source,
# the identifier-like @local.definition nodes in order (the javascript parameter pattern
# `(formal_parameters (_))` also captures wrappers, which consumers drop), and names that must
# be captured as @local.reference (the query captures every identifier: context/bindings.py
# filters, see tests/unit/test_bindings.py).
LOCALS_SAMPLES: dict[str, tuple[str, list[str], set[str]]] = {
    "python": (
        "import os.path as osp, json\n"
        "from m import a, b as c\n"
        "\n"
        "def f(x, y=1, *args, z: int, w: int = 2, **kw):\n"
        "    g = lambda q, r=0: q + r\n"
        "    (h, [i, j]) = pair\n"
        "    first, *rest = x\n"
        "    for m1, m2 in kw.items():\n"
        "        pass\n"
        "    with open(osp.join(x)) as fh, ctx() as (p1, p2):\n"
        "        pass\n"
        "    try:\n"
        "        pass\n"
        "    except ValueError as err:\n"
        "        pass\n"
        "    obj.attr = 1\n"
        "    return [n for n in args if (t := n)], call(key=y), err\n"
        "\n"
        "class C(Base):\n"
        "    pass\n",
        ["osp", "json", "a", "c", "f", "x", "y", "args", "z", "w", "kw", "g", "q", "r", "h", "i", "j",
         "first", "rest", "m1", "m2", "fh", "p1", "p2", "err", "n", "t", "C"],
        {"osp", "x", "kw", "q", "r", "pair", "open", "ctx", "ValueError", "obj", "args", "n", "call", "y",
         "err", "Base"},
    ),
    "javascript": (
        'import def, { named, orig as alias } from "m";\n'
        'import * as ns from "n";\n'
        "function f(a, b = 1, ...rest) {\n"
        "  const { p, q: r, s = 2, ...others } = a;\n"
        "  let [x, , y = 3] = b;\n"
        "  const g = (u) => u + v;\n"
        "  const h = w => w;\n"
        "  for (const k of rest) {}\n"
        "  for (const key in ns) {}\n"
        "  try { g(x); } catch (err) { throw err; }\n"
        "  return { p, total: r + s + y };\n"
        "}\n"
        "class K extends Base {}\n",
        ["def", "named", "alias", "ns", "f", "a", "b", "rest", "p", "r", "s", "others", "x", "y", "g", "u",
         "h", "w", "k", "key", "err", "K"],
        {"a", "b", "u", "v", "w", "rest", "ns", "g", "x", "err", "p", "r", "s", "y", "Base"},
    ),
    "typescript": (
        'import { readFile } from "fs/promises";\n'
        'import fs = require("fs");\n'
        "enum Level { Debug }\n"
        "namespace Shared { export const limit = 1; }\n"
        "export function load(path: string, retries?: number, ...rest: string[]): Promise<string> {\n"
        '  const { encoding = "utf8" } = options;\n'
        "  return readFile(path, encoding).catch((e: Error) => fallback(e, retries));\n"
        "}\n"
        "abstract class Base {}\n"
        "class Server { constructor(private port: number) {} }\n",
        ["readFile", "fs", "Level", "Shared", "limit", "load", "path", "retries", "rest", "encoding", "e",
         "Base", "Server", "port"],
        {"options", "readFile", "path", "encoding", "fallback", "e", "retries"},
    ),
    "tsx": (
        'import React, { useState } from "react";\n'
        "export function Counter({ start }: { start: number }, label?: string) {\n"
        "  const [count, setCount] = useState(start);\n"
        "  return <button onClick={() => setCount(count + 1)}>{label}{count}</button>;\n"
        "}\n",
        ["React", "useState", "Counter", "start", "label", "count", "setCount"],
        {"useState", "start", "setCount", "count", "label"},
    ),
}


@pytest.mark.parametrize("language", sorted(LOCALS_SAMPLES))
def test_local_definitions_and_references(language):
    source, expected_definitions, expected_reads = LOCALS_SAMPLES[language]
    tree = parse(language, source)
    defined, referenced = {}, {}
    for _, match in captures(language, "locals", tree.root_node):
        defined.update((n.id, n) for n in match.get("local.definition", []))
        referenced.update((n.id, n) for n in match.get("local.reference", []))
    names = [n for n in sorted(defined.values(), key=lambda n: n.start_byte)
             if n.type.endswith("identifier") or n.type == "shorthand_property_identifier_pattern"]
    assert [text(n) for n in names] == expected_definitions
    reads = {text(n) for i, n in referenced.items() if i not in defined}
    assert expected_reads <= reads, expected_reads - reads
    # the capture is on the name, never on a whole statement; references are identifiers
    assert all(n.type in ("identifier", "shorthand_property_identifier") for n in referenced.values())


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_imports(language):
    sample = SAMPLES[language]
    tree = parse(language, sample.source)
    statements, modules = {}, set()
    for _, match in captures(language, "imports", tree.root_node):
        assert set(match) <= {"import", "import.module"} | {n for n in match if n.startswith("_")}
        (statement,) = match["import"]
        statements[(statement.start_byte, statement.end_byte)] = statement
        for module in match.get("import.module", []):
            assert statement.start_byte <= module.start_byte and module.end_byte <= statement.end_byte
            modules.add(text(module))
    assert len(statements) == sample.import_count
    assert modules == sample.modules


def test_python_details():
    """Decorated methods stay methods; module-level only constants; nested and conditional
    functions are functions."""
    source = (
        "import a\n"
        "X = 1\n"
        "class C:\n"
        "    Y = 2\n"
        "    @staticmethod\n"
        "    def s(): pass\n"
        "    class Inner:\n"
        "        def m(self): pass\n"
        "def f():\n"
        "    Z = 3\n"
        "    def g(): pass\n"
        "try:\n"
        "    def h(): pass\n"
        "except ImportError:\n"
        "    def h2(): pass\n"
    )
    found = sorted((kind, text(name)) for kind, _, name in definitions("python", parse("python", source)))
    assert found == sorted([
        ("constant", "X"), ("class", "C"), ("method", "s"), ("class", "Inner"), ("method", "m"),
        ("function", "f"), ("function", "g"), ("function", "h"), ("function", "h2"),
    ])


def test_javascript_require_is_an_import_not_a_constant():
    source = 'const path = require("path");\nconst { a, b } = require("./ab").sub;\nconst N = 1;\n'
    tree = parse("javascript", source)
    assert [(kind, text(name)) for kind, _, name in definitions("javascript", tree)] == [("constant", "N")]
    imports = {text(m) for _, match in captures("javascript", "imports", tree.root_node) for m in match.get("import.module", [])}
    assert imports == {"path", "./ab"}
