"""The `/users` API: real JSON shapes, admins only where the real server says so."""
from __future__ import annotations

import uuid

JSON = {"Content-Type": "application/json"}


def create(client, login, password="pw", groups=(), **kwargs):
    return client.request("POST", "/users/", {"loginName": login, "fullName": f"{login} name",
                                              "groups": list(groups), "password": password},
                          JSON, **kwargs)


def test_list_users_shape(client):
    for path in ("/users/", "/users"):
        response = client.get(path, accept="application/json")
        assert response.status == 200 and response.media_type == "application/json"
        document = response.json()
        assert document["success"] is True and document["error"] == "Success"
        admin = next(user for user in document["data"] if user["loginName"] == "admin")
        assert list(admin) == ["loginName", "fullName", "groups", "disabled", "links"]
        assert admin["groups"] == ["$admins"] and admin["disabled"] is False
        assert [link["rel"] for link in admin["links"]] == [
            "reset-password", "change-password", "edit", "delete", "disable"]
        assert admin["links"][2]["href"] == f"{client.node.url}/users/admin"


def test_users_api_needs_an_admin(client):
    assert client.get("/users/", accept="application/json", auth=None).status == 401
    assert client.get("/users/", accept="application/json", auth=("ops", "changeit")).status == 401


def test_user_lifecycle(client):
    login = f"user-{uuid.uuid4().hex[:8]}"
    created = create(client, login, groups=["readers"])
    assert created.status == 201
    assert created.header("Location") == f"{client.node.url}/users/{login}"
    assert created.json() == {"loginName": login, "success": True, "error": "Success",
                              "msgTypeId": 50}
    conflict = create(client, login)
    assert conflict.status == 409 and conflict.json()["error"] == "Conflict"
    details = client.get(f"/users/{login}", accept="application/json").json()
    assert details["data"]["groups"] == ["readers"] and details["success"] is True
    own = client.get(f"/users/{login}", accept="application/json", auth=(login, "pw"))
    assert own.status == 200
    current = client.get("/users/$current", accept="application/json", auth=(login, "pw"))
    assert current.json()["data"]["loginName"] == login
    updated = client.request("PUT", f"/users/{login}", {"fullName": "New", "groups": ["g2"]}, JSON)
    assert updated.status == 200 and updated.json()["success"] is True
    assert client.get(f"/users/{login}", accept="application/json").json()["data"]["groups"] == ["g2"]

    disabled = client.request("POST", f"/users/{login}/command/disable", b"", JSON)
    assert disabled.status == 200
    assert client.get("/streams/%24all", auth=(login, "pw")).status == 401
    links = client.get(f"/users/{login}", accept="application/json").json()["data"]["links"]
    assert links[-1]["rel"] == "enable"
    assert client.request("POST", f"/users/{login}/command/enable", b"", JSON).status == 200

    reset = client.request("POST", f"/users/{login}/command/reset-password",
                           {"newPassword": "pw2"}, JSON)
    assert reset.status == 200
    assert client.get(f"/users/{login}", accept="application/json", auth=(login, "pw2")).status == 200
    wrong = client.request("POST", f"/users/{login}/command/change-password",
                           {"currentPassword": "nope", "newPassword": "pw3"}, JSON,
                           auth=(login, "pw2"))
    assert wrong.status == 401
    changed = client.request("POST", f"/users/{login}/command/change-password",
                             {"currentPassword": "pw2", "newPassword": "pw3"}, JSON,
                             auth=(login, "pw2"))
    assert changed.status == 200
    assert client.get(f"/users/{login}", accept="application/json", auth=(login, "pw3")).status == 200

    deleted = client.request("DELETE", f"/users/{login}")
    assert deleted.status == 200 and deleted.json()["loginName"] == login
    missing = client.get(f"/users/{login}", accept="application/json")
    assert missing.status == 404
    assert missing.json() == {"success": False, "error": "NotFound", "msgTypeId": 51}


def test_non_admins_cannot_manage_others(client):
    login = f"plain-{uuid.uuid4().hex[:8]}"
    create(client, login)
    assert client.get("/users/admin", accept="application/json", auth=(login, "pw")).status == 401
    assert create(client, "x" + login, auth=(login, "pw")).status == 401
    other = client.request("POST", "/users/admin/command/change-password",
                           {"currentPassword": "changeit", "newPassword": "x"}, JSON,
                           auth=(login, "pw"))
    assert other.status == 401


def test_missing_user_commands_are_404(client):
    response = client.request("POST", "/users/nobody-here/command/disable", b"", JSON)
    assert response.status == 404 and response.json()["error"] == "NotFound"


def test_bad_user_bodies_are_400(client):
    assert client.request("POST", "/users/", b"{not json", JSON).status == 400
    assert client.request("POST", "/users/", {"fullName": "no login"}, JSON).status == 400
