"""The permission rules themselves (newsroom/permissions.py), without a server, and the guard that
keeps them the only place that decides: no other module compares roles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dateline.model import Blog, Post, PostStatus, Role, User
from dateline.newsroom.permissions import Action, abilities, own_account_refusal, refusal

BLOG = Blog(slug="b", title="B", timezone="UTC", id=1)
ME, SOMEONE = 10, 20


def user(role: Role) -> User:
    return User(email=f"{role.value}@example.org", name=role.value, role=role, id=ME)


def post(status: PostStatus, author: int = ME) -> Post:
    return Post(blog_slug="b", id="p", status=status, author_id=author)


def allowed(role: Role, action: Action, *, member: bool = True, of: Post | None = None) -> bool:
    return refusal(user(role), action, blog=BLOG, member=member, post=of) is None


@pytest.mark.parametrize("action", list(Action))
def test_admins_may_do_everything_everywhere(action: Action) -> None:
    assert allowed(Role.ADMIN, action, member=False, of=post(PostStatus.PUBLISHED, SOMEONE))


@pytest.mark.parametrize("role", [Role.EDITOR, Role.CONTRIBUTOR])
@pytest.mark.parametrize(
    "action", [a for a in Action if a not in (Action.CREATE_BLOG, Action.UPLOAD)]
)
def test_outside_their_blogs_editors_and_contributors_may_do_nothing(
    role: Role, action: Action
) -> None:
    assert not allowed(role, action, member=False, of=post(PostStatus.DRAFT))


def test_editors_do_everything_on_their_blogs_but_manage_people() -> None:
    for action in Action:
        for status in PostStatus:
            expected = action is not Action.MANAGE_PEOPLE
            assert allowed(Role.EDITOR, action, of=post(status, SOMEONE)) is expected, action


@pytest.mark.parametrize(
    "action",
    [
        Action.PUBLISH,
        Action.FLAG,
        Action.REVIEW,
        Action.EDIT_BLOG,
        Action.CREATE_BLOG,
        Action.KEEP_SCORE,
    ],
)
def test_contributors_never_publish_flag_review_or_run_blogs(action: Action) -> None:
    assert not allowed(Role.CONTRIBUTOR, action)


@pytest.mark.parametrize(
    ("action", "status", "own", "expected"),
    [
        (Action.EDIT_POST, PostStatus.DRAFT, True, True),
        (Action.EDIT_POST, PostStatus.SUBMITTED, True, True),
        (Action.EDIT_POST, PostStatus.SCHEDULED, True, False),
        (Action.EDIT_POST, PostStatus.PUBLISHED, True, False),
        (Action.EDIT_POST, PostStatus.DRAFT, False, False),
        (Action.DELETE_POST, PostStatus.DRAFT, True, True),
        (Action.DELETE_POST, PostStatus.PUBLISHED, True, False),
        (Action.DELETE_POST, PostStatus.SUBMITTED, False, False),
        (Action.SEE_HISTORY, PostStatus.PUBLISHED, True, True),
        (Action.SEE_HISTORY, PostStatus.PUBLISHED, False, False),
        (Action.SEE_UNPUBLISHED, PostStatus.SUBMITTED, True, True),
        (Action.SEE_UNPUBLISHED, PostStatus.SUBMITTED, False, False),
    ],
)
def test_contributors_handle_only_their_own_posts_until_they_go_out(
    action: Action, status: PostStatus, own: bool, expected: bool
) -> None:
    of = post(status, ME if own else SOMEONE)
    assert allowed(Role.CONTRIBUTOR, action, of=of) is expected


def test_contributors_write_and_upload_on_their_blogs() -> None:
    assert allowed(Role.CONTRIBUTOR, Action.WRITE)
    assert allowed(Role.CONTRIBUTOR, Action.OPEN_BLOG)
    assert allowed(Role.CONTRIBUTOR, Action.UPLOAD, member=False)


def test_a_refusal_says_why_and_what_to_do() -> None:
    reason = refusal(user(Role.EDITOR), Action.PUBLISH, blog=BLOG, member=False)
    assert reason == "you are not a member of blog 'b'; ask an admin to add you"
    reason = refusal(user(Role.CONTRIBUTOR), Action.PUBLISH, blog=BLOG, member=True)
    assert reason is not None and "submitted" in reason


def test_pages_are_told_what_each_role_may_offer() -> None:
    assert abilities(None) == {"create_blogs": False, "manage_people": False, "upload": False}
    assert abilities(user(Role.CONTRIBUTOR))["create_blogs"] is False
    assert abilities(user(Role.EDITOR)) == {
        "create_blogs": True,
        "manage_people": False,
        "upload": True,
    }
    assert all(abilities(user(Role.ADMIN)).values())


PACKAGE = Path(__file__).resolve().parents[1] / "dateline"
# What a role comparison looks like in code or a template.
COMPARES_ROLES = re.compile(
    r"Role\.(ADMIN|EDITOR|CONTRIBUTOR)\b|\.role\s*(is|==|!=|in)\b|role\.value\s*(==|!=)|is_admin"
)
# Where roles are defined, or assigned (not compared to decide anything).
ALLOWED = {"newsroom/permissions.py", "model.py"}


def test_nothing_but_the_permission_module_compares_roles() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in (".py", ".html") or not path.is_file():
            continue
        where = path.relative_to(PACKAGE).as_posix()
        if where in ALLOWED:
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if COMPARES_ROLES.search(line):
                found.append(f"{where}:{number}: {line.strip()}")
    assert not found, "roles compared outside newsroom/permissions.py:\n" + "\n".join(found)


def test_an_admin_never_demotes_or_deactivates_themselves() -> None:
    admin = user(Role.ADMIN)
    assert own_account_refusal(admin, ME, role=Role.EDITOR) is not None
    assert own_account_refusal(admin, ME, active=False) is not None
    assert own_account_refusal(admin, ME, role=Role.ADMIN) is None
    assert own_account_refusal(admin, ME, active=True) is None
    assert own_account_refusal(admin, SOMEONE, role=Role.CONTRIBUTOR) is None
    assert own_account_refusal(admin, SOMEONE, active=False) is None
