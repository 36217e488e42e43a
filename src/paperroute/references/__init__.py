"""Reference-manager libraries: parse BibTeX / RIS / CSL-JSON, match entries to papers, export.

`formats` reads files into plain `Entry`s (and per-entry errors with line numbers), `export`
writes papers back out in the same three formats, `importer` matches entries to papers in the
store (fetching unknown arXiv papers through the sources) and saves them into a collection.
"""
