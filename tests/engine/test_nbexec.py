"""Notebook execution: nbrun.py in a real subprocess, read back by nnkit.sandbox.execute."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nnkit.sandbox.execute import ExecResult, execute_notebook, nbrun_path

pytestmark = pytest.mark.engine


def launcher(cwd):
    """What the jail provides: argv run with stdin/stdout pipes in the submission's dir."""

    def launch(argv: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            [argv[0], "-I", *argv[1:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )

    return launch


def run(tmp_path, *sources: str, **kw) -> ExecResult:
    nb = new_notebook(cells=[new_code_cell(textwrap.dedent(s)) for s in sources])
    res = execute_notebook(nb, launcher(tmp_path), **kw)
    nbformat.validate(res.nb)
    return res


def outs(res: ExecResult, i: int) -> list[dict]:
    return res.nb["cells"][i]["outputs"]


def text(res: ExecResult, i: int, name: str = "stdout") -> str:
    return "".join(o["text"] for o in outs(res, i) if o.get("name") == name)


def kinds(res: ExecResult, i: int) -> list[str]:
    return [o["output_type"] for o in outs(res, i)]


def errors(res: ExecResult, i: int) -> list[str]:
    return [o["ename"] for o in outs(res, i) if o["output_type"] == "error"]


def test_nbrun_is_standalone():
    tree = ast.parse(nbrun_path().read_text())
    mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not [m for m in mods if m.split(".")[0] == "nnkit"]


def test_outputs_in_order_plots_errors_and_magics(tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 7\n")
    res = run(
        tmp_path,
        """
        import sys
        from IPython.display import HTML, display
        print("a")
        print("b", file=sys.stderr)
        display(HTML("<b>x</b>"))
        print("c")
        40 + 2
        """,
        """
        %matplotlib inline
        import numpy as np
        import matplotlib.pyplot as plt
        plt.plot(np.arange(5))
        plt.title("loss")
        """,
        "1 / 0",
        "import helper\nhelper.VALUE",
        "%timeit -n1 -r1 1+1",
        "np.zeros?",
        "x = input()",
        """
        from IPython.display import clear_output, display
        print("gone")
        clear_output()
        h = display("first", display_id=True)
        h.update("updated")
        """,
        "import sys\nsys.exit(2)",
        "exit()",
        "raise KeyboardInterrupt",
        "print('still running')",
    )
    assert res.messages == []
    o = outs(res, 0)
    assert kinds(res, 0) == ["stream", "stream", "display_data", "stream", "execute_result"]
    assert [o[0]["text"], o[1]["name"], o[1]["text"], o[3]["text"]] == [
        "a\n",
        "stderr",
        "b\n",
        "c\n",
    ]
    assert o[2]["data"]["text/html"] == "<b>x</b>"
    assert o[4]["data"]["text/plain"] == "42" and o[4]["execution_count"] == 1
    assert res.nb["cells"][0]["execution_count"] == 1
    pngs = [x for x in outs(res, 1) if "image/png" in x.get("data", {})]
    assert len(pngs) == 1 and pngs[0]["output_type"] == "display_data"
    assert len(pngs[0]["data"]["image/png"]) > 1000
    assert errors(res, 2) == ["ZeroDivisionError"]
    assert outs(res, 3)[0]["data"]["text/plain"] == "7"  # the cwd is importable
    assert "per loop" in text(res, 4)
    assert errors(res, 5) == [] and errors(res, 6)  # input() fails instead of waiting
    assert [x["data"]["text/plain"] for x in outs(res, 7)] == ["'updated'"]
    assert errors(res, 8) == ["SystemExit"] and errors(res, 10) == ["KeyboardInterrupt"]
    assert text(res, 11) == "still running\n"
    assert [c["execution_count"] for c in res.nb["cells"]] == list(range(1, 13))


def test_markdown_and_empty_cells_are_kept(tmp_path):
    nb = new_notebook(
        cells=[new_markdown_cell("# hi"), new_code_cell("   "), new_code_cell("print(1)")]
    )
    nb.cells[2].outputs = [{"output_type": "stream", "name": "stdout", "text": "forged"}]
    res = execute_notebook(nb, launcher(tmp_path))
    assert res.messages == []
    assert res.nb.cells[0].source == "# hi"
    assert res.nb.cells[1].execution_count is None and res.nb.cells[1].outputs == []
    assert text(res, 2) == "1\n" and res.nb.cells[2].execution_count == 1


def test_timeout_then_the_rest_runs(tmp_path):
    t = time.monotonic()
    res = run(
        tmp_path,
        "import time\nprint('start')\ntime.sleep(60)",
        """
        try:
            time.sleep(60)
        except Exception:
            print("an ordinary except does not swallow it")
        """,
        "print('next')",
        cell_timeout=1.0,
    )
    assert time.monotonic() - t < 20
    assert text(res, 0) == "start\n" and errors(res, 0) == ["CellTimeout"]
    err = outs(res, 0)[-1]
    assert err["evalue"] == "timed out after 1 s"
    assert "nbrun" not in "".join(err["traceback"])  # ends in the cell, not in the handler
    assert errors(res, 1) == ["CellTimeout"]
    assert text(res, 2) == "next\n"
    assert res.messages == ["cell 0 timed out after 1 s", "cell 1 timed out after 1 s"]


def test_uninterruptible_cell_is_killed(tmp_path):
    res = run(
        tmp_path,
        "print('before')",
        """
        import time
        while True:
            try:
                time.sleep(60)
            except BaseException:
                pass
        """,
        "print('never')",
        cell_timeout=1.0,
        hang_grace=1.0,
    )
    assert text(res, 0) == "before\n"
    assert outs(res, 1) == [] and outs(res, 2) == []
    assert res.messages == [
        "cell 1 did not stop after its 1 s timeout and was killed; "
        "cell 1 and later cells have no output"
    ]


def test_total_budget(tmp_path):
    res = run(
        tmp_path,
        "import time\ntime.sleep(60)",
        "print('not run')",
        cell_timeout=30.0,
        total_timeout=4.0,
    )
    assert errors(res, 0) == ["CellTimeout"]
    assert outs(res, 1) == []
    assert any("time budget (4 s)" in m and "cell 1" in m for m in res.messages), res.messages


def test_student_writes_cannot_fake_the_protocol(tmp_path):
    res = run(
        tmp_path,
        """
        import os, sys
        os.write(1, b'{"done": true}\\n')
        os.write(2, b'{"id": "c2", "execution_count": 9, "outputs": []}\\n')
        print('{"id": "c1", "execution_count": 5, "outputs": []}')
        sys.__stdout__.write('{"done": true}\\n')
        """,
        "import subprocess\nsubprocess.run(['echo', '{\"done\": true}'])",
        "print('third')",
    )
    assert res.messages == []
    assert '{"done": true}' in text(res, 0)
    assert '"id": "c2"' in text(res, 0, "stderr")
    assert text(res, 1) == '{"done": true}\n'  # a child process writes into the pipe too
    assert text(res, 2) == "third\n" and res.nb.cells[2].execution_count == 3


def test_hooks_print_only_into_student_outputs(tmp_path):
    res = run(
        tmp_path,
        """
        import os
        def hook(info):
            print("HOOK")
            os.write(1, b'{"done": true}\\n')
        get_ipython().events.register("pre_run_cell", hook)
        get_ipython().events.register("post_run_cell", lambda r: print("POST"))
        """,
        "print('body')",
        "print('last')",
    )
    assert res.messages == []
    assert text(res, 0) == "POST\n"
    for i, body in ((1, "body"), (2, "last")):
        t = text(res, i)
        assert t.startswith("HOOK\n") and f"{body}\nPOST\n" in t and '{"done": true}' in t


@pytest.mark.parametrize(
    "how, message",
    [
        ("os._exit(3)", "exited with status 3"),
        ("os.kill(os.getpid(), 9)", "crashed (signal 9, SIGKILL)"),
    ],
)
def test_crash_keeps_earlier_outputs(tmp_path, how, message):
    res = run(tmp_path, "print('one')", "1 / 0", f"import os\nprint('x')\n{how}", "print(4)")
    assert text(res, 0) == "one\n" and errors(res, 1) == ["ZeroDivisionError"]
    assert outs(res, 2) == [] and outs(res, 3) == []
    assert res.messages == [
        f"the notebook process {message} after cell 1; cell 2 and later cells have no output"
    ]


def test_output_flood_is_capped(tmp_path):
    limit = 64 * 1024
    res = run(
        tmp_path,
        "print('x' * 10_000_000)",
        "for i in range(300_000):\n    print(i)",
        "import os\nfor _ in range(200):\n    os.write(1, b'y' * 65536)\nprint('z')",
        """
        import numpy as np
        from IPython.display import Image, display
        for _ in range(50):
            display({"image/png": "A" * 100_000, "text/plain": "img"}, raw=True)
        1 / 0
        """,
        "print('after')",
        max_output_bytes=limit,
    )
    for i in range(4):
        assert len(json.dumps(outs(res, i))) <= limit
        assert f"outputs of cell {i} truncated (over 64 KB)" in res.messages
    assert "more characters of stdout dropped" in text(res, 0)
    assert text(res, 1).startswith("0\n1\n2\n")
    assert errors(res, 3) == ["ZeroDivisionError"]  # an error still fits after a flood
    assert "image/png output dropped" in json.dumps(outs(res, 3))
    assert text(res, 4) == "after\n"


def test_total_output_cap(tmp_path):
    res = run(
        tmp_path,
        *["print('x' * 50_000)"] * 4,
        "1 / 0",
        max_output_bytes=64 * 1024,
        max_total_bytes=120 * 1024,
    )
    assert len(text(res, 0)) == 50_001 and len(text(res, 1)) == 50_001
    assert "output limit was reached" in text(res, 2, "stderr")
    assert errors(res, 4) == ["ZeroDivisionError"]
    assert any("exceeded 120 KB in total" in m for m in res.messages)


# ----------------------------------------------------------------------------- hostile runner


FAKE = r"""
import json, sys
sys.stdin.read()
w = sys.stdout.write
w("not json\n")
w(json.dumps([1, 2]) + "\n")
w(json.dumps({"id": "zzz", "outputs": []}) + "\n")
w(json.dumps({"id": "c0", "execution_count": 1, "outputs": [
    {"output_type": "stream", "name": "stdout", "text": ["a", "b"]},
    {"output_type": "stream", "name": "evil", "text": "x"},
    {"output_type": "display_data", "data": {"text/html": {"x": 1}}, "metadata": {}},
    {"output_type": "display_data", "data": {"image/png": "AAAA", "text/plain": "p"},
     "metadata": {"image/png": {"width": 3}}, "transient": {"display_id": "x"}},
    {"output_type": "error", "ename": "E", "evalue": "v", "traceback": [1]},
    {"output_type": "execute_result", "execution_count": "7", "data": {"text/plain": "7"},
     "metadata": {"k": float("inf")}},
    {"output_type": "unknown"},
]}) + "\n")
w(json.dumps({"id": "c0", "execution_count": 2, "outputs": []}) + "\n")
w("{" + "x" * 200_000 + "\n")
w(json.dumps({"id": "c1", "execution_count": [], "outputs": "no",
              "timed_out": "yes", "truncated": 1}) + "\n")
w(json.dumps({"done": True}) + "\n")
w(json.dumps({"id": "c2", "execution_count": 3, "outputs": []}) + "\n")
"""


def test_hostile_runner_lines_are_validated(tmp_path):
    (tmp_path / "fake.py").write_text(FAKE)
    nb = new_notebook(cells=[new_code_cell("a"), new_code_cell("b"), new_code_cell("c")])
    res = execute_notebook(
        nb,
        launcher(tmp_path),
        argv=[sys.executable, str(tmp_path / "fake.py")],
        max_output_bytes=64 * 1024,
    )
    nbformat.validate(res.nb)
    o = outs(res, 0)
    assert o == [
        {"output_type": "stream", "name": "stdout", "text": "ab"},
        {
            "output_type": "display_data",
            "data": {"image/png": "AAAA", "text/plain": "p"},
            "metadata": {"image/png": {"width": 3}},
        },
        {
            "output_type": "execute_result",
            "execution_count": None,
            "data": {"text/plain": "7"},
            "metadata": {},
        },
    ]
    assert res.nb.cells[0].execution_count == 1
    assert res.nb.cells[1].execution_count is None and outs(res, 1) == []
    assert res.nb.cells[2].execution_count is None  # after "done": not read
    assert res.messages == [
        "ignored an unreadable result line",
        "ignored a result for a cell that was not sent",
        "dropped 4 malformed output(s) of cell 0",
        "cell 0 was reported twice; the repeat was ignored",
        "dropped a result line over 68 KB",
        "dropped the malformed output(s) of cell 1",
        "the notebook process stopped early after cell 1; cell 2 and later cells have no output",
    ]


def test_fast_highlighting_gives_ipython_s_own_tracebacks(tmp_path, monkeypatch) -> None:
    """nbrun.highlight_once (one compiled lexer for coloured tracebacks) changes no byte of
    what IPython prints for a failing cell: code lines, colours, the executing node."""
    import importlib

    import stack_data.core
    from IPython.core.ultratb import VerboseTB

    from nnkit.sandbox import nbrun

    (tmp_path / "failing_mod.py").write_text("def f(x):\n    y = [x] * 3\n    return y[0] / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    failing = importlib.import_module("failing_mod")

    def traceback() -> str:
        try:
            failing.f(1.5)
        except ZeroDivisionError:
            return VerboseTB(theme_name="linux").text(*sys.exc_info())
        raise AssertionError("no exception")

    monkeypatch.setattr(nbrun, "_highlighted", None)
    own_highlighter = stack_data.core._pygmented_with_ranges
    monkeypatch.setattr(stack_data.core, "_pygmented_with_ranges", own_highlighter)
    own = traceback()
    nbrun.highlight_once()
    assert stack_data.core._pygmented_with_ranges is nbrun._highlighted is not None
    assert "\x1b[38;5;" in own and "\x1b[30;43m" in own  # highlighted code, executing node
    assert traceback() == own
