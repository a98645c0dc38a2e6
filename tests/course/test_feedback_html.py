"""The feedback page: student code shown escaped, student outputs sanitised, figures with alt
text and cells focusable (nbconvert's lab page, rendered without its slow passes)."""

from __future__ import annotations

import base64
import json

import nbformat
import pytest

from nnkit.course.publish import render

pytestmark = pytest.mark.course

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4"
        "890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def _page() -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell('My answer <script>alert("md")</script> **is 3**'),
        nbformat.v4.new_code_cell(
            "x = \"</div><script>alert('src')</script>\"",
            outputs=[
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "text/html": "<script>alert('out')</script><b onmouseover='alert(1)'>b</b>",
                        "text/plain": "b",
                    },
                ),
                nbformat.v4.new_output(
                    "display_data",
                    data={"image/svg+xml": '<svg onload="alert(2)"><circle r="1"/></svg>'},
                ),
                nbformat.v4.new_output("display_data", data={"image/png": PNG}),
            ],
        ),
    ]
    record = {"score": 0, "max_score": 0, "tests": [], "messages": [], "cells": []}
    out = render(record, {"Hw.ipynb": json.dumps(nb)}, {})
    return out["feedback/Hw.html"]


def test_student_code_is_escaped_and_outputs_sanitised() -> None:
    page = _page()
    assert "&lt;script&gt;alert('src')&lt;/script&gt;" in page  # the source, shown as text
    for live in ("<script>alert(", "onmouseover", 'onload="alert', "<script>alert(&quot;"):
        assert live not in page, live
    assert "<b>b</b>" in page  # harmless markup stays
    assert "<strong>is 3</strong>" in page and "<h2" in page  # Markdown still renders


def test_figures_have_alt_text_and_cells_are_focusable() -> None:
    page = _page()
    imgs = page.count("<img")
    assert imgs >= 1 and page.count("<img alt=") == imgs
    assert 'jp-Cell-inputWrapper" tabindex="0"' in page
    assert page.count('tabindex="0"') >= 3
