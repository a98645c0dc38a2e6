"""What a graded submission shows nbgrader and the student: autograded/ and feedback/.

For each graded record of a course assignment (rendered by the trusted side, in the grading
worker; written by the batch process):

* ``autograded/<s>/<a>/<nb>.ipynb``: the notebook as executed in the sandbox, with the grade
  cells' nbgrader metadata (and the source of locked cells) restored from the release, so
  the formgrader shows it as autograded with the engine's scores from the gradebook;
* ``feedback/<s>/<a>/<nb>.html``: that notebook without hidden tests or test-cell
  tracebacks, opened by a report that names every test that lost points and why (the
  engine's one-line diagnostics, never test code or arrays).
"""

from __future__ import annotations

import copy
import functools
import html
import re
from pathlib import PurePosixPath
from typing import Any

import nbformat

from nnkit.late import PREFIX as LATE_PREFIX
from nnkit.results import SubmissionResult

_HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def _grade_id(cell: dict[str, Any]) -> str | None:
    nbg = cell.get("metadata", {}).get("nbgrader")
    return nbg.get("grade_id") if isinstance(nbg, dict) else None


def repair_notebook(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Restore nbgrader's view of a submitted notebook from the release, in place.

    Cells that the release knows (by grade_id) get the release's nbgrader metadata back, and
    locked ones their release source; a cell claiming an unknown or repeated grade_id loses
    its nbgrader metadata. Students' own code is untouched: only what nbgrader needs to run
    (and what a student must not change anyway) is reset. Returns what was repaired.
    """
    known = {_grade_id(c): c for c in release.cells if _grade_id(c)}
    seen: set[str] = set()
    notes = []
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        if "nbgrader" not in meta:
            continue
        gid = _grade_id(cell)
        if gid not in known or gid in seen:
            del meta["nbgrader"]
            notes.append(f"cell {gid!r}: unknown or repeated grade id, metadata dropped")
            continue
        seen.add(gid)
        ref = known[gid]
        if meta["nbgrader"] != ref.metadata["nbgrader"]:
            notes.append(f"cell {gid!r}: nbgrader metadata restored")
            meta["nbgrader"] = copy.deepcopy(ref.metadata["nbgrader"])
        if ref.metadata["nbgrader"].get("locked") and not ref.metadata["nbgrader"].get("solution"):
            if cell.source != ref.source or cell.cell_type != ref.cell_type:
                notes.append(f"cell {gid!r}: locked cell restored")
            cell.source = ref.source
            if cell.cell_type != ref.cell_type:
                cell.cell_type = ref.cell_type
                if ref.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
                else:
                    cell.pop("outputs", None)
                    cell.pop("execution_count", None)
            for key in ("editable", "deletable"):
                if key in ref.metadata:
                    meta[key] = ref.metadata[key]
                else:
                    meta.pop(key, None)
    return notes


def add_missing_cells(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Put back the release's grade cells a student deleted (after the cell before them)."""
    have = {_grade_id(c) for c in nb.cells}
    notes, last = [], -1
    for ref in release.cells:
        gid = _grade_id(ref)
        if gid and gid in have:
            last = next(i for i, c in enumerate(nb.cells) if _grade_id(c) == gid)
        elif gid:
            nb.cells.insert(last + 1, copy.deepcopy(ref))
            last += 1
            notes.append(f"cell {gid!r}: restored (it was deleted)")
    return notes


def _strip_hidden(source: str) -> str:
    out, hidden = [], False
    for line in source.splitlines():
        if line.strip() == _HIDDEN[0]:
            hidden = True
        elif line.strip() == _HIDDEN[1]:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def report_markdown(record: dict[str, Any]) -> str:
    """The grading report at the top of the feedback: total, then every lost point."""
    res = SubmissionResult.from_dict(record)
    lines = [
        "## Grading report",
        "",
        f"**Score: {res.score:g} / {res.max_score:g}** (hidden tests, run in a sandbox)",
        "",
    ]
    late = record.get("late")
    if late:
        lines += [
            f"**Late submission: -{late['penalty']:g} points.** {html.escape(late['text'])}; "
            f"the assignment's score is {record['score']:g} / {record['max_score']:g}.",
            "",
        ]
    lost = [t for t in res.tests if t.score < t.max_score or t.score < 0]
    if lost:
        lines += ["| test | points | why |", "| --- | --- | --- |"]
        for t in lost:
            why = html.escape((t.output or "failed").splitlines()[0][:300]).replace("|", "\\|")
            lines.append(f"| {html.escape(t.name)} | {t.score:g} / {t.max_score:g} | {why} |")
    else:
        lines.append("Every hidden test passed.")
    notes = [m for m in record.get("messages", []) if m and not m.startswith(LATE_PREFIX)]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {html.escape(m[:300])}" for m in notes[:30]]
    return "\n".join(lines)


def feedback_notebook(nb: dict[str, Any], record: dict[str, Any]) -> nbformat.NotebookNode:
    """The student's copy: hidden tests and test-cell outputs gone, the report on top."""
    fb = nbformat.from_dict(copy.deepcopy(nb))
    for cell in fb.cells:
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if nbg.get("grade") and not nbg.get("solution"):
            cell.source = _strip_hidden(cell.source)
            if cell.cell_type == "code":
                cell.outputs = []
        cell.get("metadata", {}).pop("nbgrader", None)
    fb.cells.insert(0, nbformat.v4.new_markdown_cell(report_markdown(record)))
    return fb


#: nbconvert's lab page with the code cells' highlighted source left as pygments writes it
#: (escaped); nbconvert would run bleach over each one (a third of the page's time). Student
#: outputs (HTML, SVG, Markdown) and Markdown cells are sanitised (``sanitize_html``).
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block input %}
<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">
     <div class="cm-editor cm-s-jupyter">
{{ cell.source | highlight_code(metadata=cell.metadata) }}
     </div>
</div>
{%- endblock input %}
"""
#: What survives sanitising: the markup of Markdown and of simple HTML outputs (tables,
#: headings, figures), never a script, style, form, frame or event handler.
_TAGS = frozenset(
    "a abbr acronym b blockquote br code dd del details div dl dt em h1 h2 h3 h4 h5 h6 hr i "
    "img kbd li ol p pre s span strong sub summary sup table tbody td tfoot th thead tr ul".split()
)
_ATTRS = {
    "*": ["class", "id", "title"],
    "a": ["href", "title"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align"],
}


def _sanitise(html_text: Any) -> str:
    """Student-made HTML (Markdown cells, HTML/SVG outputs) without anything active."""
    return _clean(html_text.decode() if isinstance(html_text, bytes) else str(html_text))


@functools.lru_cache(maxsize=4096)  # the release's Markdown recurs in every submission
def _clean(text: str) -> str:
    import bleach

    return bleach.clean(
        text, tags=_TAGS, attributes=_ATTRS, protocols=["http", "https", "mailto", "data"]
    )


@functools.lru_cache(maxsize=4096)  # the release's code cells recur in every submission
def _highlighted(source: str, lexer: str | None, magics: str | None) -> str:
    from nbconvert.filters.highlight import Highlight2HTML

    meta = {"magics_language": magics} if magics is not None else None
    return Highlight2HTML(pygments_lexer=lexer)(source, metadata=meta)


def _highlighter(lexer: str | None) -> Any:
    """nbconvert's ``highlight_code`` filter for a notebook of this pygments lexer."""

    def highlight_code(source: str, language: str | None = None, metadata: Any = None) -> str:
        magics = metadata.get("magics_language") if metadata else None
        return _highlighted(source, language or lexer, magics)

    return highlight_code


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")
_FOCUSABLE = re.compile(r'(<div class="[^"]*\bjp-(?:Cell-inputWrapper|OutputArea-output)\b[^"]*")')
_EXPORTER: Any = None


def _exporter() -> Any:
    """One HTML exporter per process (building one loads the templates: ~0.3 s)."""
    global _EXPORTER
    if _EXPORTER is None:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        class FeedbackExporter(HTMLExporter):
            """HTMLExporter without its BeautifulSoup pass over the whole page; the two things
            it adds (alt text of figures, tab stops on cells) are added by pattern."""

            def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
                lang = nb.metadata.get("language_info", {})
                lexer = lang.get("pygments_lexer", lang.get("name", None))
                self.register_filter("highlight_code", _highlighter(lexer))
                resources = self._init_resources(resources)
                self.register_filter(
                    "filter_data_type",
                    WidgetsDataTypeFilter(
                        notebook_metadata=self._nb_metadata, parent=self, resources=resources
                    ),
                )
                body, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
                body = _IMG_WITHOUT_ALT.sub('<img alt="a figure of this notebook"', body)
                return _FOCUSABLE.sub(r'\1 tabindex="0"', body), resources

        _EXPORTER = FeedbackExporter(
            template_name="lab",
            extra_loaders=[DictLoader({"nnkit_feedback.html.j2": _TEMPLATE})],
            sanitize_html=True,  # student HTML, SVG and Markdown: no scripts, no handlers
            filters={"clean_html": _sanitise},
        )
        _EXPORTER.template_file = "nnkit_feedback.html.j2"
    return _EXPORTER


def render(
    record: dict[str, Any], notebooks: dict[str, str], release: dict[str, str]
) -> dict[str, str]:
    """What a graded submission publishes, as relative path -> text: ``autograded/<nb>``
    (release metadata, locked and deleted cells restored) and ``feedback/<nb>.html``. Runs in
    the grading worker, in parallel (``grading_report.md`` is written from the stored record by
    the batch outputs, so a later late-policy change shows there)."""
    out: dict[str, str] = {}
    for name, text in sorted(notebooks.items()):
        name = PurePosixPath(name).name
        if not name.endswith(".ipynb") or name.startswith("."):
            continue
        nb = nbformat.reads(text, as_version=4)
        if name in release:
            rel = nbformat.reads(release[name], as_version=4)
            repair_notebook(nb, rel)
            add_missing_cells(nb, rel)
        out[f"autograded/{name}"] = nbformat.writes(nb)
        body, _ = _exporter().from_notebook_node(feedback_notebook(nb, record))
        out[f"feedback/{name.removesuffix('.ipynb')}.html"] = body
    return out
