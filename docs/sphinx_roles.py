"""A griffe extension for the API page: semlink's docstrings are reST-flavoured (``:param x:``,
which mkdocstrings' sphinx style reads, but also ``:class:`Name``` roles and ``::`` before an
indented example, which Markdown would show as they are). Roles become code spans, ``::``
becomes ``:`` (the indented block below it is already a code block in Markdown)."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj|const):`~?([^`]+)`")
LITERAL = re.compile(r"(?m)(\S)::$|^::$\n?")


def plain(text: str) -> str:
    """``text`` with Sphinx roles as code spans and reST's ``::`` as Markdown needs it."""
    text = ROLE.sub(r"`\1`", text)
    return LITERAL.sub(lambda match: f"{match.group(1)}:" if match.group(1) else "", text)


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring that griffe loads for the site."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
