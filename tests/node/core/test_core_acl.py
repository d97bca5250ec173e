"""Effective ACLs (digest §9.3, §9.4, §6.4) and `insecure`."""
import pytest

from clientapi.server.core.errors import AccessDenied
from clientapi.server.core.model import ANY, SYSTEM, Principal

from .helpers import ADMIN, ALICE, ANON, BOB, OPS, events, metadata_event, with_core


async def _acl(core, stream, acl):
    await core.append("$$" + stream, [metadata_event({"$acl": acl})], ANY, ADMIN)


def test_anonymous_is_denied_and_any_user_allowed_on_user_streams_by_default():
    async def body(core):
        with pytest.raises(AccessDenied):
            await core.append("s", events(1), ANY, ANON)
        await core.append("s", events(1), ANY, ALICE)
        with pytest.raises(AccessDenied):
            await core.read_stream("s", None, 20, "backward", True, ANON)
        await core.read_stream("s", None, 20, "backward", True, BOB)
        assert core.authorizer.is_public("s", "read", await core.get_metadata("s"))
        assert not core.authorizer.is_public("$sys", "read", await core.get_metadata("$sys"))
    with_core(body)


def test_system_streams_are_for_admins_only():
    async def body(core):
        for principal in (BOB, OPS):
            with pytest.raises(AccessDenied):
                await core.append("$private", events(1), ANY, principal)
        await core.append("$private", events(1), ANY, ADMIN)
        await core.append("$private", events(1), ANY, SYSTEM)
        with pytest.raises(AccessDenied):
            await core.read_event("$private", 0, True, OPS)
    with_core(body)


def test_stream_acl_matches_groups_and_logins_and_admins_always_pass():
    async def body(core):
        await core.append("s", events(1), ANY, ADMIN)
        await _acl(core, "s", {"$r": ["staff", "alice"], "$w": "nobody"})
        await core.read_event("s", 0, True, BOB)      # via group "staff"
        await core.read_event("s", 0, True, ALICE)    # via login
        with pytest.raises(AccessDenied):
            await core.read_event("s", 0, True, Principal("carol", ("guests",)))
        with pytest.raises(AccessDenied):
            await core.append("s", events(1), ANY, BOB)
        await core.append("s", events(1), ANY, ADMIN)
    with_core(body)


def test_metastream_uses_meta_read_and_meta_write_roles():
    async def body(core):
        await core.append("s", events(1), ANY, ADMIN)
        await _acl(core, "s", {"$mr": "alice", "$mw": "alice", "$r": "$all"})
        with pytest.raises(AccessDenied):
            await core.read_event("$$s", -1, True, BOB)
        await core.read_event("$$s", -1, True, ALICE)
        with pytest.raises(AccessDenied):
            await core.append("$$s", [metadata_event({})], ANY, BOB)
        await core.read_event("s", 0, True, BOB)
        assert core.check_access("$$s", "read", ALICE, await core.get_metadata("s"))
        assert not core.check_access("$$s", "write", BOB, await core.get_metadata("s"))
    with_core(body)


def test_delete_needs_the_delete_role():
    async def body(core):
        await core.append("s", events(1), ANY, ADMIN)
        await _acl(core, "s", {"$d": "alice"})
        with pytest.raises(AccessDenied):
            await core.delete_stream("s", ANY, False, BOB)
        await core.delete_stream("s", ANY, False, ALICE)
    with_core(body)


def test_settings_change_the_defaults():
    async def body(core):
        await core.append("s", events(1), ANY, BOB)
        settings = {"$userStreamAcl": {"$r": "staff"}, "$systemStreamAcl": {"$r": ["$admins", "alice"]}}
        with pytest.raises(AccessDenied):
            await core.append("$settings", [metadata_event(settings)], ANY, BOB)
        await core.append("$settings", [metadata_event(settings)], ANY, ADMIN)
        await core.read_event("s", 0, True, BOB)
        with pytest.raises(AccessDenied):
            await core.read_event("s", 0, True, ALICE)
        await core.append("s", events(1), ANY, ALICE)  # $w falls back to the built-in default
        await core.append("$sys", events(1), ANY, ADMIN)
        await core.read_event("$sys", 0, True, ALICE)
        assert not core.authorizer.is_public("s", "read", await core.get_metadata("s"))
    with_core(body)


def test_all_is_admin_only_unless_its_metadata_says_otherwise():
    async def body(core):
        with pytest.raises(AccessDenied):
            await core.read_all(None, 10, "backward", False, BOB)
        await core.read_all(None, 10, "backward", False, ADMIN)
        await core.append("$$$all", [metadata_event({"$acl": {"$r": "staff"}})], ANY, ADMIN)
        await core.read_all(None, 10, "backward", False, BOB)
        with pytest.raises(AccessDenied):
            await core.read_all(None, 10, "backward", False, ALICE)
    with_core(body)


def test_insecure_disables_every_check():
    async def body(core):
        await core.append("$private", events(1), ANY, ANON)
        await core.read_all(None, 10, "backward", False, ANON)
        await _acl(core, "s", {"$r": "nobody"})
        await core.append("s", events(1), ANY, ANON)
        await core.read_event("s", 0, True, ANON)
    with_core(body, insecure=True)
