"""The web layer, by audience: reader/ (pages, feeds, embed), live/ (SSE and the delta), api/ (the
JSON API), console/ (the newsroom), and server/ (what depends on a server's internals). It
writes only through `newsroom` and reads from `store`; it parses HTTP and shapes answers."""
