"""The web layer: reader pages, the live stream, the JSON API. It calls only `newsroom` (writes)
and `store` (reads)."""
