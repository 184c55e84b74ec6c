"""Sphinx configuration of the course website (built by ``python -m tools.build html``).

The source folder is a staging copy made by tools/website.py: the committed notebooks
(rendered as they are, never executed) plus an ``index.md`` generated from course.toml.
Everything the pages load is local: the theme's own assets, and MathJax, which the build
copies from tools/node_modules (``npm ci --prefix tools``); nothing comes from the internet.
"""

project = "PyTorch course"  # tools/website.py passes -D project=... from course.toml
author = "the course authors"
copyright = "the course authors"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # notebooks may skip heading levels (## right after #)

# --- notebooks: render what is committed, outputs included -----------------------
nb_execution_mode = "off"
nb_merge_streams = True
nb_ipywidgets_js = {}  # no require.js / widget manager from CDNs: widget outputs (tqdm bars) are not shown
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# --- math: MathJax 3 from _static/mathjax (tools/assets.py copies it from tools/node_modules)
mathjax_path = "mathjax/tex-chtml.js"

# --- theme -------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
templates_path = ["_templates"]  # sections/sidebar-primary.html: the sidebar as a landmark
html_css_files = ["course.css"]
html_js_files = ["course.js"]  # the header's search button on a phone, search snippets without the page's buttons
html_favicon = "_static/favicon.svg"  # else browsers ask the server for /favicon.ico
html_show_sourcelink = False
html_copy_source = True  # the "download .ipynb" button links to _sources/
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # pydata-sphinx-theme reads it from the context
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_source_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "launch_buttons": {},
    "toc_title": "On this page",
    "navigation_with_keys": True,
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},  # the home page: full width
    "article_header_end": ["article-header-buttons"],
    "navbar_persistent": [],  # the search field is in the sidebar; no extra top bar
    "footer_content_items": [],
}
# the search field itself (an <input> with its label), not the theme's search button: axe finds the button's name
# ("Search") at odds with its text ("Search… Ctrl+K"), and the field works without a pop-up
html_sidebars = {"**": ["navbar-logo", "search-field", "sbt-sidebar-nav.html"]}
html_use_index = False  # no genindex page: a course has no API to index
html_show_copyright = False


def _accessible_solution_toggles(app, pagename, templatename, context, doctree):
    """myst-nb names each fold "Toggle hidden content" while it shows "Show solution": let the text name it."""
    if "body" in context:
        context["body"] = context["body"].replace('<summary aria-label="Toggle hidden content">', "<summary>")


def setup(app):
    app.connect("html-page-context", _accessible_solution_toggles)
