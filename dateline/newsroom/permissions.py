"""Who may do what: the one answer to "may this user do this to this blog or post".

Every entry point (the JSON API, the console, the command line, importers, reporter inputs) asks
here, through the newsroom's use cases; nothing else compares roles. The rules:

* admins may do everything, on every blog;
* editors create blogs, and on the blogs they are members of publish, schedule, edit, pin, flag,
  review and delete any post, change the header and keep the score box;
* contributors, on the blogs they are members of, write drafts and submit them for review, and
  edit, delete and see the history of their own posts until those are published or scheduled;
* editors add, change and close readers' polls in the posts of the blogs they are members of;
* editors register, see, pause, resume and delete the webhooks of the blogs they are members
  of (each receives every event of the blog, and its secret);
* editors link chat channels (Slack) to the blogs they are members of and choose whether an
  editor's message there publishes or waits as a draft (reporter inputs, dateline/intake/);
* editors decide which posts notify the blog's followers (web push) when they go out;
* editors export the blogs they are members of, whole (every post in every status, its history,
  the members' emails);
* any newsroom user may upload images (uploading is not publishing);
* only admins manage users and memberships;
* readers, without an account, read live and ended blogs and their published posts; a draft blog
  is its members' alone (`public_blog`, `on_readers_pages`);
* readers, without an account, vote once in each open poll of a published post in live coverage
  (newsroom/polls.py; the store decides "open" and "once" in the vote's own transaction), and
  follow and unfollow live blogs' notifications (newsroom/followers.py).

`check` is pure: it decides on a user, an action, whether the user is a member of the blog, and
the post as it is (inside the write transaction, for changes). `Permissions.ensure` looks the
membership up first."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable

from dateline.config import Settings
from dateline.errors import Forbidden
from dateline.model import Blog, BlogStatus, Post, PostStatus, Role, User


class Action(enum.Enum):
    CREATE_BLOG = "create blogs"
    EDIT_BLOG = "change a blog's header or status"
    OPEN_BLOG = "work on this blog"
    WRITE = "write drafts and submit them for review"
    PUBLISH = "publish or schedule posts"
    FLAG = "pin posts or mark key events"
    REVIEW = "review posts"
    EDIT_POST = "edit this post"
    DELETE_POST = "delete this post"
    SEE_HISTORY = "see this post's history"
    SEE_UNPUBLISHED = "see this unpublished post"
    UPLOAD = "upload images"
    MANAGE_PEOPLE = "manage users and memberships"
    EXPORT_BLOG = "export this blog whole (every post in every status, its history, its members)"
    KEEP_SCORE = "set, count and clear this blog's score box"
    POLL = "add, change or close readers' polls"
    WEBHOOKS = "register, see, pause, resume and delete this blog's webhooks"
    CONNECT_INPUTS = "link chat channels to this blog and choose what editors' messages do"
    NOTIFY = "notify the blog's followers of a post"


# Actions on a blog that need membership of it (admins are members of every blog).
_ON_A_BLOG = frozenset(Action) - {Action.CREATE_BLOG, Action.UPLOAD, Action.MANAGE_PEOPLE}
# Actions an editor may take on the blogs they belong to and a contributor may not.
_EDITORS_ONLY = {
    Action.CREATE_BLOG: "contributors cannot create blogs; ask an editor",
    Action.EDIT_BLOG: "contributors cannot change a blog's header; ask an editor",
    Action.PUBLISH: (
        "contributors cannot publish or schedule; send status 'submitted' for an editor to review"
    ),
    Action.FLAG: "contributors cannot pin posts or mark key events",
    Action.REVIEW: "contributors cannot review posts; an editor reviews them",
    Action.EXPORT_BLOG: "contributors cannot export a blog; ask an editor of it",
    Action.KEEP_SCORE: "contributors cannot change the score box; ask an editor",
    Action.POLL: "contributors cannot add or change polls; ask an editor to add one",
    Action.WEBHOOKS: "contributors cannot manage a blog's webhooks; ask an editor of it",
    Action.CONNECT_INPUTS: (
        "contributors cannot link channels to a blog or change what messages do; ask an editor"
    ),
    Action.NOTIFY: (
        "contributors cannot notify the blog's followers; an editor decides that when publishing"
    ),
}
# What a contributor may do to a post, and only their own, before it goes out.
_OWN_POSTS = {
    Action.EDIT_POST: "contributors can only edit their own posts, until they are published",
    Action.DELETE_POST: "contributors can only delete their own posts, until they are published",
    Action.SEE_HISTORY: "contributors can only see the history of their own posts",
    Action.SEE_UNPUBLISHED: "contributors can only see their own unpublished posts",
}
_GONE_OUT = (PostStatus.PUBLISHED, PostStatus.SCHEDULED)


def refusal(
    user: User,
    action: Action,
    *,
    blog: Blog | None = None,
    member: bool = False,
    post: Post | None = None,
) -> str | None:
    """Why `user` may not take `action` (None: they may). `member`: whether they belong to
    `blog`, the blog concerned; `post`: the post concerned, as it is now."""
    if user.role is Role.ADMIN:
        return None
    if action is Action.MANAGE_PEOPLE:
        return "only admins manage users and memberships"
    if action is Action.UPLOAD:
        return None
    if action in _ON_A_BLOG and not member:
        which = f"blog {blog.slug!r}" if blog is not None else "this blog"
        return f"you are not a member of {which}; ask an admin to add you"
    if user.role is Role.EDITOR:
        return None
    if action in _EDITORS_ONLY:
        return _EDITORS_ONLY[action]
    if action in _OWN_POSTS:
        assert post is not None, f"{action} needs the post"
        own = post.author_id is not None and post.author_id == user.id
        if not own:
            return _OWN_POSTS[action]
        if action in (Action.EDIT_POST, Action.DELETE_POST) and post.status in _GONE_OUT:
            return _OWN_POSTS[action]
    return None


def check(
    user: User,
    action: Action,
    *,
    blog: Blog | None = None,
    member: bool = False,
    post: Post | None = None,
) -> None:
    """Raise Forbidden (403) with the reason unless `user` may take `action`."""
    reason = refusal(user, action, blog=blog, member=member, post=post)
    if reason is not None:
        raise Forbidden(reason)


def may(
    user: User,
    action: Action,
    *,
    blog: Blog | None = None,
    member: bool = False,
    post: Post | None = None,
) -> bool:
    return refusal(user, action, blog=blog, member=member, post=post) is None


def public_blog(blog: Blog) -> bool:
    """Whether every reader, signed in or not, may read `blog`: live and ended coverage is
    public; a draft is its newsroom's alone (`Action.OPEN_BLOG`), and does not exist for anyone
    else (its pages, feed, embed, stream and JSON answer 404, the index leaves it out, hubs are
    not pinged about it, and it has no public coverage to archive)."""
    return blog.status is not BlogStatus.DRAFT


def on_readers_pages(post: Post) -> bool:
    """Whether `post` is shown to readers (pages, permalinks, feeds, embeds): published posts
    only. Its newsroom sees the others through `Action.SEE_UNPUBLISHED`."""
    return post.status is PostStatus.PUBLISHED


def abilities(user: User | None) -> dict[str, bool]:
    """What `user` may do beyond any one blog, for a page to offer only that."""
    if user is None:
        return {"create_blogs": False, "manage_people": False, "upload": False}
    return {
        "create_blogs": may(user, Action.CREATE_BLOG),
        "manage_people": may(user, Action.MANAGE_PEOPLE),
        "upload": may(user, Action.UPLOAD),
    }


def own_account_refusal(
    actor: User, user_id: int, *, role: Role | None = None, active: bool | None = None
) -> str | None:
    """Why an admin may not make this change to their own account (None: they may). Nobody takes
    away their own admin role or deactivates themselves: the instance could be left with no
    admin to undo it."""
    if actor.id != user_id:
        return None
    if role is not None and role is not Role.ADMIN:
        return "you cannot take away your own admin role; ask another admin"
    if active is False:
        return "you cannot deactivate yourself; ask another admin"
    return None


def pixel_limit(user: User, settings: Settings) -> int:
    """The most pixels an image `user` uploads may have: less for contributors, whose uploads
    no editor has seen yet."""
    if user.role is Role.CONTRIBUTOR:
        return min(settings.max_contributor_image_pixels, settings.max_image_pixels)
    return settings.max_image_pixels


IsMember = Callable[[int, int], Awaitable[bool]]


async def is_member(lookup: IsMember, user: User, blog: Blog) -> bool:
    """Whether `user` belongs to `blog` (admins belong to every blog)."""
    if user.role is Role.ADMIN:
        return True
    assert user.id is not None and blog.id is not None
    return await lookup(user.id, blog.id)


async def ensure(
    lookup: IsMember, user: User, action: Action, blog: Blog, post: Post | None = None
) -> bool:
    """Raise Forbidden unless `user` may take `action` on `blog` (and `post`); answers whether
    they are a member, for the checks that follow on the same blog."""
    member = await is_member(lookup, user, blog)
    check(user, action, blog=blog, member=member, post=post)
    return member
