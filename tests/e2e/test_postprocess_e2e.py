"""Syntax-aware completions over LSP, with the real model: whatever it writes, the server's
post-processing keeps these promises."""

from ..helpers.e2e import capabilities, completion_logs, inline, open_doc, session

FOO = "def foo(a, b):\n    return a + b\n\n\nx = 1\ny = 2\nresult = foo()\nprint(result)\n"
BODY = "def add(a, b):\n    \n\n\ndef main():\n    print(add(1, 2))\n"
NEXT = "def total(xs):\n    t = 0\n    \n    return t\n"
STRING = 'name = "sokuji completes code"\n'


async def test_postprocessing_promises():
    async with session(capabilities(inline=True)) as client:
        # inside foo( with ) already after the cursor: never a doubled )
        open_doc(client, "file:///w/foo.py", FOO)
        result = await inline(client, "file:///w/foo.py", 6, len("result = foo("))
        assert len(result.items) == 1
        for item in result.items:
            line = "result = foo(" + item.insert_text + ")"
            assert line.count("(") == line.count(")"), line

        # a multi-line completion in an empty function body stops at the end of that function
        open_doc(client, "file:///w/body.py", BODY)
        result = await inline(client, "file:///w/body.py", 1, 4)
        assert len(result.items) == 1
        lines = result.items[0].insert_text.split("\n")
        assert all(not ln.strip() or ln.startswith("    ") for ln in lines[1:]), lines
        assert "def main" not in result.items[0].insert_text

        # never repeats the next line of the file
        open_doc(client, "file:///w/next.py", NEXT)
        result = await inline(client, "file:///w/next.py", 2, 4)
        assert len(result.items) == 1
        for item in result.items:
            assert "return t" not in [ln.strip() for ln in item.insert_text.split("\n")], item.insert_text

        # inside a string: no request to the model at all
        open_doc(client, "file:///w/string.py", STRING)
        result = await inline(client, "file:///w/string.py", 0, 12)
        assert len(result.items) == 0
        assert any("string.py:1:13" in m and "stop=skipped" in m for m in completion_logs(client))
