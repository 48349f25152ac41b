"""Read the code blocks of a reST page the way Sphinx sees them, with plain docutils.

Sphinx-only roles and directives (``:doc:``, ``.. data::``, ``.. toctree::``) are
unknown to docutils; they are parsed as errors that are neither reported nor fatal,
which leaves the code blocks intact.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives

DOCS = Path(__file__).resolve().parents[2] / "docs"

#: A reST comment with this text right before a code block marks it as not run by tests.
SKIP_MARK = "skip-test"


@dataclass
class Block:
    language: str
    code: str
    line: int
    options: dict[str, str] = field(default_factory=dict)
    skipped: bool = False

    @property
    def caption(self) -> str | None:
        return self.options.get("caption")


class _CodeBlock(Directive):
    """Sphinx's ``code-block``, reduced to what the tests need: language, options, text."""

    has_content = True
    optional_arguments = 1
    option_spec = {
        "caption": directives.unchanged,
        "name": directives.unchanged,
        "linenos": directives.flag,
        "lineno-start": directives.unchanged,
        "emphasize-lines": directives.unchanged,
        "dedent": directives.unchanged,
        "force": directives.flag,
        "class": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        node = nodes.literal_block("\n".join(self.content), "\n".join(self.content))
        node["language"] = self.arguments[0] if self.arguments else "default"
        node["block_options"] = {k: ("" if v is None else v) for k, v in self.options.items()}
        node.line = self.lineno
        return [node]


for _name in ("code-block", "sourcecode", "code"):
    directives.register_directive(_name, _CodeBlock)


def _inside(node: nodes.Node, kind: type[nodes.Node]) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kind):
            return True
        parent = parent.parent
    return False


def code_blocks(page: str | Path) -> list[Block]:
    """Every ``code-block`` and ``::`` literal block of ``page``, in document order.

    ``::`` blocks get the language ``"literal"``.
    """
    path = DOCS / page if isinstance(page, str) else page
    doctree = publish_doctree(
        path.read_text(encoding="utf-8"),
        source_path=str(path),
        settings_overrides={"report_level": 5, "halt_level": 5,
                            "warning_stream": io.StringIO(), "file_insertion_enabled": False},
    )
    blocks = []
    for node in doctree.findall(nodes.literal_block):
        if _inside(node, nodes.system_message):
            continue  # the source of a directive docutils does not know, such as toctree
        previous = node.previous_sibling()
        skipped = (isinstance(previous, nodes.comment)
                   and previous.astext().strip() == SKIP_MARK)
        blocks.append(Block(
            language=node.get("language", "literal"),
            code=node.astext(),
            line=node.line or 0,
            options=dict(node.get("block_options", {})),
            skipped=skipped,
        ))
    return blocks
