"""The book: notebook parameters, the Colab set-up, chapter 0's schedule helpers, the chapter
helpers (`chapters`) and the front page. Notebooks import from here only."""

from prunebook.extras import require

require("book", 'pandas', 'matplotlib', 'scipy', by="prunebook.book")
