"""The feedback page a student gets back (``nbgrader generate_feedback``), made to read well offline.

- Maths is pre-rendered: every ``$...$`` and ``$$...$$`` of the markdown cells becomes MathML
  (latex2mathml, pure Python), which browsers draw natively; the page loads no MathJax from a CDN, so
  formulas do not show as raw ``$$...$$`` on a machine without internet.
- The template (grading/templates/course_feedback) titles each test cell with its function in the
  contents list and colours the ones that lost points.
Figures come through as they are in the notebook: the diagrams are attachments of markdown cells, and
the student's own figures and sound of demonstration cells are handed back by ``grading.media``.
"""
import os
import re

from latex2mathml.converter import convert
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import Preprocessor

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
# code blocks and code spans are left alone; then $$display$$ and $inline$ (a \$ is a dollar sign)
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<![\\\s])\$", re.S)


def _convert(tex, display):
    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - a formula the converter cannot read stays as written
        return f"<code>{tex}</code>"


def maths_to_mathml(markdown, wrap=None):
    """``markdown`` with its formulas replaced by MathML (code spans and blocks untouched); ``wrap(mathml)``, when
    given, returns what goes in the formula's place instead (PrerenderMaths leaves a token)."""
    wrap = wrap or (lambda html: html)
    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):   # even parts are prose, odd ones code
        parts[i] = _MATH.sub(lambda m: wrap(_convert(m.group(1), True) if m.group(1) is not None
                                            else _convert(m.group(2), False)), parts[i])
    return "".join(parts)


class PrerenderMaths(Preprocessor):
    """Take the formulas of markdown cells out before the HTML export and leave a token in their place.

    The MathML goes back in after the export (``FeedbackExporter``), so that nothing between parses tens of
    thousands of MathML tags.
    """

    enabled = True  # nbconvert runs a preprocessor only when enabled

    def preprocess(self, nb, resources):
        maths = resources.setdefault("course_maths", [])

        def keep(html):
            maths.append(html)
            return TOKEN.format(len(maths) - 1)
        for cell in nb.cells:
            if cell.cell_type == "markdown" and "$" in cell.source:
                cell.source = maths_to_mathml(cell.source, keep)
        return nb, resources


TOKEN = "CourseMathToken{}x"
_TOKEN = re.compile(r"CourseMathToken(\d+)x")


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)", re.I)


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, with the MathML of ``PrerenderMaths`` put back in place of its tokens, and
    without the BeautifulSoup pass HTMLExporter makes over the finished page.

    That pass gives images without alternative text one, and marks JupyterLab-template cells focusable (this page
    uses the classic template, which has none); on a feedback page of rnn_step_by_step it cost about 0.7 s of the
    2 s the page takes, for every student. The alternative text is added here by a pattern on ``<img`` tags.
    """

    def from_notebook_node(self, nb, resources=None, **kw):
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                       parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        html = _IMG_WITHOUT_ALT.sub('<img alt="No description has been provided for this image"', html)
        maths = resources.get("course_maths", [])
        html = _TOKEN.sub(lambda m: maths[int(m.group(1))] if int(m.group(1)) < len(maths) else m.group(0), html)
        return html, resources


def configure(c):
    """Point ``nbgrader generate_feedback`` at the course's template and maths pre-rendering."""
    import nbgrader
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    nbgrader_templates = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader",
                                      "templates")
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, PrerenderMaths]
    c.GenerateFeedback.exporter_class = FeedbackExporter
    c.HTMLExporter.template_name = "course_feedback"
    c.HTMLExporter.template_file = "course_feedback.html.j2"   # extends the feedback template's index.html.j2
    c.HTMLExporter.extra_template_basedirs = [TEMPLATES, nbgrader_templates]
