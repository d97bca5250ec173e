"""Users: defaults, management, authentication and its cache (digest §15)."""
import pytest

from clientapi.server.core.errors import AccessDenied, BadRequest, Conflict, NotFound

from .helpers import with_core


def test_default_users_exist():
    async def body(core):
        admin = await core.authenticate("admin", "changeit")
        ops = await core.authenticate("ops", "changeit")
        assert admin.groups == ("$admins",) and admin.is_admin
        assert ops.groups == ("$ops",) and ops.is_ops and not ops.is_admin
        assert await core.authenticate("admin", "wrong") is None
        assert await core.authenticate("nobody", "changeit") is None
        assert [u.login for u in await core.list_users()] == ["admin", "ops"]
    with_core(body)


def test_user_lifecycle():
    async def body(core):
        await core.create_user("bob", "Bob B", ["staff"], "s3cret")
        with pytest.raises(Conflict):
            await core.create_user("bob", "Other", [], "x")
        principal = await core.authenticate("bob", "s3cret")
        assert principal.login == "bob" and principal.groups == ("staff",)
        await core.update_user("bob", "Robert", ["staff", "ops-team"])
        user = await core.get_user("bob")
        assert (user.full_name, user.groups, user.disabled) == ("Robert", ["staff", "ops-team"], False)
        assert (await core.authenticate("bob", "s3cret")).groups == ("staff", "ops-team")
        await core.set_user_disabled("bob", True)
        assert await core.authenticate("bob", "s3cret") is None
        await core.set_user_disabled("bob", False)
        await core.reset_password("bob", "new-one")
        assert await core.authenticate("bob", "s3cret") is None
        assert await core.authenticate("bob", "new-one") is not None
        with pytest.raises(AccessDenied):
            await core.change_password("bob", "wrong", "x")
        await core.change_password("bob", "new-one", "newer")
        assert await core.authenticate("bob", "newer") is not None
        await core.delete_user("bob")
        assert await core.authenticate("bob", "newer") is None
        for missing in (core.get_user("bob"), core.update_user("bob", "x", []),
                        core.delete_user("bob"), core.set_user_disabled("bob", True),
                        core.reset_password("bob", "x")):
            with pytest.raises(NotFound):
                await missing
        await core.create_user("bob", "Bob again", [], "again")  # a deleted login can come back
        assert await core.authenticate("bob", "again") is not None
    with_core(body)


def test_invalid_users_are_refused():
    async def body(core):
        with pytest.raises(BadRequest):
            await core.create_user("", "No Login", [], "pw")
        with pytest.raises(BadRequest):
            await core.create_user("x", "No Password", [], "")
        with pytest.raises(BadRequest):
            await core.create_user("x", "Bad Groups", "staff", "pw")
    with_core(body)


def test_repeated_authentication_is_cheap():
    import time

    async def body(core):
        await core.authenticate("admin", "changeit")
        started = time.perf_counter()
        for _ in range(1000):
            assert await core.authenticate("admin", "changeit") is not None
        assert time.perf_counter() - started < 0.5
    with_core(body)


def test_passwords_are_stored_only_as_salted_hashes(tmp_path):
    async def body(core):
        await core.create_user("alice", "Alice", [], "plain-text-secret")
        await core.create_user("carol", "Carol", [], "plain-text-secret")
        alice, carol = await core.get_user("alice"), await core.get_user("carol")
        assert alice.salt != carol.salt and alice.password_hash != carol.password_hash
        assert "plain-text-secret" not in repr(alice)
    with_core(body, path=str(tmp_path))
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"admin" in stored
    assert b"plain-text-secret" not in stored and b"changeit" not in stored
