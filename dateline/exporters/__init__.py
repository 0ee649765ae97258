"""Exporters: a blog's coverage taken out of Dateline, read from the store.

archive.py  the whole blog as a `dateline-archive/1` file, for importing elsewhere (the
            command line and the API's export both write it)
html.py     a static HTML archive of ended coverage, served at the live site's own URLs by
            any static web server with Dateline stopped (docs/archiving.md); it renders the
            reader's templates, so it sits above the web layer and only the command line
            imports it (the import contracts in pyproject.toml)"""
