"""What readers get without JavaScript: the blog page, permalinks, the embed and the Atom feed
(pages.py), shown alike everywhere through views.py, with search and social metadata
(metadata.py)."""
