"""Embeds of other sites' posts and videos, pasted as a URL alone on a line of a post.

    providers.py  which provider a URL belongs to (the oEmbed project's list, providers.json),
                  and the privacy-enhanced frame a reader may load for it
    fetch.py      fetching a hostile URL: public addresses only, bounded in time and size
    snapshot.py   the oEmbed answer or the page's Open Graph tags → the stored snapshot
    cards.py      the snapshot as the card readers see before they choose to load the frame

The newsroom (newsroom/embeds.py) decides when to fetch and stores the result with the post."""
