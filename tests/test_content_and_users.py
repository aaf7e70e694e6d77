"""Content items and users (SPEC §2.4): their operations, input rules and look-ups."""

from typing import Any

import pytest

from .helpers import Api

CONTENT_FIELDS = "id ref type title description url isActive"
USER_FIELDS = "id ref name email isActive"


async def create_content(api: Api, **item: Any) -> dict[str, Any]:
    data = await api.data(
        "mutation ($item: CreateContentItemInput!) { createContentItem(contentItem: $item) "
        "{ contentItem { %s } } }" % CONTENT_FIELDS,
        {"item": {"type": "TRAINING", **item}},
    )
    created: dict[str, Any] = data["createContentItem"]["contentItem"]
    return created


async def update_content(api: Api, item_id: str, **changes: Any) -> dict[str, Any]:
    data = await api.data(
        "mutation ($id: UUID!, $item: UpdateContentItemInput!) { updateContentItem(id: $id, "
        "contentItem: $item) { contentItem { %s } } }" % CONTENT_FIELDS,
        {"id": item_id, "item": changes},
    )
    updated: dict[str, Any] = data["updateContentItem"]["contentItem"]
    return updated


async def archive_content(api: Api, ids: list[str], archive: bool = True) -> dict[str, Any]:
    data = await api.data(
        "mutation ($archive: Boolean!, $ids: [UUID!]!) { archiveContentItems(archive: $archive, "
        "ids: $ids) { response { succeededIds failedIds } } }",
        {"archive": archive, "ids": ids},
    )
    response: dict[str, Any] = data["archiveContentItems"]["response"]
    return response


async def create_offer(api: Api) -> str:
    data = await api.data('mutation { createOffer(offer: {title: "PM"}) { offer { id } } }')
    return str(data["createOffer"]["offer"]["id"])


CREATE_EVENT = """mutation ($event: CreateOfferEventInput!) { createOfferEvent(offerEvent: $event)
    { offerEvent { id contentId contentTitle } } }"""


async def create_user(api: Api, **user: Any) -> dict[str, Any]:
    data = await api.data(
        "mutation ($user: CreateUserInput!) { createUser(user: $user) { user { %s } } }"
        % USER_FIELDS,
        {"user": user},
    )
    created: dict[str, Any] = data["createUser"]["user"]
    return created


async def user_ids(api: Api, arguments: str = "") -> list[str]:
    listing = f"paginatedUsers({arguments})" if arguments else "paginatedUsers"
    data = await api.data("query { %s { edges { node { id } } } }" % listing)
    return [edge["node"]["id"] for edge in data["paginatedUsers"]["edges"]]


async def content_ids(api: Api, arguments: str) -> list[str]:
    data = await api.data(
        "query { paginatedContentItems(%s) { edges { node { id } } } }" % arguments
    )
    return [edge["node"]["id"] for edge in data["paginatedContentItems"]["edges"]]


# --- content items ---


async def test_create_content_item_returns_every_field(api: Api) -> None:
    item = await create_content(
        api,
        type="EXTERNAL_CONTENT",
        title="  Agile in practice  ",
        ref="ext-1",
        description="A course elsewhere",
        url="https://learn.example.com/agile",
    )
    assert item == {
        "id": item["id"],
        "ref": "ext-1",
        "type": "EXTERNAL_CONTENT",
        "title": "Agile in practice",
        "description": "A course elsewhere",
        "url": "https://learn.example.com/agile",
        "isActive": True,
    }
    found = await api.data('query { contentItem(id: "%s") { %s } }' % (item["id"], CONTENT_FIELDS))
    assert found["contentItem"] == item


async def test_update_content_item_keeps_fields_that_are_not_given(api: Api) -> None:
    item = await create_content(
        api, title="Agile", ref="c-1", description="Intro", url="https://example.com/a"
    )
    updated = await update_content(api, item["id"], title="Agile, revised")
    assert updated == {**item, "title": "Agile, revised"}

    cleared = await update_content(api, item["id"], description=None)
    assert cleared == {**item, "title": "Agile, revised", "description": None}


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://example.com/file", "https://", "javascript:alert(1)"]
)
async def test_invalid_content_url_is_bad_user_input_on_the_url_field(api: Api, url: str) -> None:
    error = await api.error(
        "mutation ($item: CreateContentItemInput!) { createContentItem(contentItem: $item) "
        "{ contentItem { id } } }",
        {"item": {"type": "VIDEO", "title": "Clip", "url": url}},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "contentItem.url"

    item = await create_content(api, title="Clip", url="https://example.com/clip")
    error = await api.error(
        "mutation ($id: UUID!, $item: UpdateContentItemInput!) { updateContentItem(id: $id, "
        "contentItem: $item) { contentItem { id } } }",
        {"id": item["id"], "item": {"url": url}},
    )
    assert error["extensions"]["field"] == "contentItem.url"
    found = await api.data('query { contentItem(id: "%s") { url } }' % item["id"])
    assert found["contentItem"]["url"] == "https://example.com/clip"


async def test_archive_and_unarchive_content_items_switch_is_active(api: Api) -> None:
    item = await create_content(api, title="Agile")
    assert await archive_content(api, [item["id"]]) == {
        "succeededIds": [item["id"]],
        "failedIds": [],
    }
    found = await api.data('query { contentItem(id: "%s") { isActive } }' % item["id"])
    assert found["contentItem"]["isActive"] is False

    assert await archive_content(api, [item["id"]], archive=False) == {
        "succeededIds": [item["id"]],
        "failedIds": [],
    }
    found = await api.data('query { contentItem(id: "%s") { isActive } }' % item["id"])
    assert found["contentItem"]["isActive"] is True


async def test_content_item_by_ref(api: Api) -> None:
    item = await create_content(api, title="Agile", ref="agile-101")
    await create_content(api, title="Scrum", ref="scrum-101")
    found = await api.data('query { contentItem(ref: "agile-101") { id title } }')
    assert found["contentItem"] == {"id": item["id"], "title": "Agile"}
    missing = await api.data('query { contentItem(ref: "agile-102") { id } }')
    assert missing["contentItem"] is None


async def test_paginated_content_items_filter_by_type_and_search(api: Api) -> None:
    agile_training = await create_content(api, type="TRAINING", title="Agile basics")
    agile_video = await create_content(api, type="VIDEO", title="AGILE in five minutes")
    scrum_training = await create_content(api, type="TRAINING", title="Scrum", ref="agile-scrum")
    await create_content(api, type="COURSE", title="Excel")

    assert await content_ids(api, "type: TRAINING") == [agile_training["id"], scrum_training["id"]]
    # Search looks at the title and the ref, case-insensitively.
    assert await content_ids(api, 'search: "agile"') == [
        agile_training["id"],
        agile_video["id"],
        scrum_training["id"],
    ]
    assert await content_ids(api, 'type: VIDEO, search: "Agile"') == [agile_video["id"]]
    assert await content_ids(api, "type: SCORM") == []


async def test_content_title_of_an_offer_event_follows_a_rename(api: Api) -> None:
    item = await create_content(api, title="PM essentials")
    created = await api.data(
        CREATE_EVENT,
        {"event": {"offerId": await create_offer(api), "title": "Sept", "contentId": item["id"]}},
    )
    event = created["createOfferEvent"]["offerEvent"]
    assert event["contentTitle"] == "PM essentials"

    await update_content(api, item["id"], title="PM essentials (2025 edition)")
    found = await api.data('query { offerEvent(id: "%s") { contentTitle } }' % event["id"])
    assert found["offerEvent"]["contentTitle"] == "PM essentials (2025 edition)"


async def test_an_archived_content_item_cannot_be_linked_to_a_new_event(api: Api) -> None:
    item = await create_content(api, title="Old course")
    await archive_content(api, [item["id"]])
    offer_id = await create_offer(api)
    error = await api.error(
        CREATE_EVENT, {"event": {"offerId": offer_id, "title": "Sept", "contentId": item["id"]}}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "offerEvent.contentId"
    events = await api.data('query { offer(id: "%s") { offerEvents { id } } }' % offer_id)
    assert events["offer"]["offerEvents"] == []


# --- users ---


async def test_create_user_returns_it_and_user_by_id_finds_it(api: Api) -> None:
    user = await create_user(api, name="Ann Smith", email="ann@example.com", ref="hr-1")
    assert user == {
        "id": user["id"],
        "ref": "hr-1",
        "name": "Ann Smith",
        "email": "ann@example.com",
        "isActive": True,
    }
    found = await api.data('query { user(id: "%s") { %s } }' % (user["id"], USER_FIELDS))
    assert found["user"] == user


@pytest.mark.parametrize(
    "email", ["ann", "ann@", "@example.com", "ann@@example.com", "ann example@x.com", ""]
)
async def test_create_user_with_a_malformed_email_is_bad_user_input(api: Api, email: str) -> None:
    error = await api.error(
        "mutation ($user: CreateUserInput!) { createUser(user: $user) { user { id } } }",
        {"user": {"name": "Ann", "email": email}},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "user.email"
    assert await user_ids(api) == []


async def test_email_is_unique_regardless_of_case(api: Api) -> None:
    first = await create_user(api, name="Ann", email="Ann.Smith@Example.com")
    error = await api.error(
        "mutation ($user: CreateUserInput!) { createUser(user: $user) { user { id } } }",
        {"user": {"name": "Other Ann", "email": "ann.smith@EXAMPLE.COM"}},
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["field"] == "user.email"

    other = await create_user(api, name="Bob", email="bob@example.com")
    error = await api.error(
        'mutation { updateUser(id: "%s", user: {email: "ANN.SMITH@example.com"}) '
        "{ user { id } } }" % other["id"]
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert await user_ids(api) == [first["id"], other["id"]]


async def test_user_by_email_is_case_insensitive(api: Api) -> None:
    user = await create_user(api, name="Ann", email="ann.smith@example.com")
    found = await api.data('query { user(email: "ANN.Smith@Example.COM") { id } }')
    assert found["user"] == {"id": user["id"]}
    missing = await api.data('query { user(email: "bob@example.com") { id } }')
    assert missing["user"] is None


async def test_update_user_by_id_and_by_ref(api: Api) -> None:
    user = await create_user(api, name="Ann", email="ann@example.com", ref="hr-1")
    by_id = await api.data(
        'mutation { updateUser(id: "%s", user: {name: "Ann Smith"}) { user { %s } } }'
        % (user["id"], USER_FIELDS)
    )
    assert by_id["updateUser"]["user"] == {**user, "name": "Ann Smith"}

    by_ref = await api.data(
        'mutation { updateUser(ref: "hr-1", user: {email: "ann.smith@example.com"}) '
        "{ user { %s } } }" % USER_FIELDS
    )
    assert by_ref["updateUser"]["user"] == {
        **user,
        "name": "Ann Smith",
        "email": "ann.smith@example.com",
    }


UPSERT = """mutation ($ref: String, $email: String, $user: UpdateUserInput!) {
    updateOrCreateUser(ref: $ref, email: $email, user: $user) { created user { %s } } }""" % (
    USER_FIELDS
)


async def test_update_or_create_user_creates_then_updates_by_ref(api: Api) -> None:
    created = await api.data(
        UPSERT, {"ref": "hr-7", "email": "carla@example.com", "user": {"name": "Carla"}}
    )
    assert created["updateOrCreateUser"]["created"] is True
    user = created["updateOrCreateUser"]["user"]
    assert user == {
        "id": user["id"],
        "ref": "hr-7",
        "name": "Carla",
        "email": "carla@example.com",
        "isActive": True,
    }

    updated = await api.data(
        UPSERT, {"ref": "hr-7", "user": {"name": "Carla Jones", "email": "cj@example.com"}}
    )
    assert updated["updateOrCreateUser"] == {
        "created": False,
        "user": {**user, "name": "Carla Jones", "email": "cj@example.com"},
    }
    assert await user_ids(api) == [user["id"]]


async def test_update_or_create_user_falls_back_to_email_when_ref_is_unknown(api: Api) -> None:
    user = await create_user(api, name="Dan", email="dan@example.com", ref="hr-8")
    data = await api.data(
        UPSERT, {"ref": "hr-unknown", "email": "DAN@example.com", "user": {"name": "Daniel"}}
    )
    assert data["updateOrCreateUser"]["created"] is False
    assert data["updateOrCreateUser"]["user"]["id"] == user["id"]
    assert data["updateOrCreateUser"]["user"]["name"] == "Daniel"
    assert await user_ids(api) == [user["id"]]


async def test_archive_users_deactivates_them_and_paginated_users_filters_by_is_active(
    api: Api,
) -> None:
    ann = await create_user(api, name="Ann", email="ann@example.com")
    bob = await create_user(api, name="Bob", email="bob@example.com")
    data = await api.data(
        'mutation { archiveUsers(archive: true, ids: ["%s"]) '
        "{ response { succeededIds failedIds } } }" % bob["id"]
    )
    assert data["archiveUsers"]["response"] == {"succeededIds": [bob["id"]], "failedIds": []}
    found = await api.data('query { user(id: "%s") { isActive } }' % bob["id"])
    assert found["user"]["isActive"] is False

    assert await user_ids(api, "isActive: false") == [bob["id"]]
    assert await user_ids(api, "isActive: true") == [ann["id"]]
    assert await user_ids(api) == [ann["id"], bob["id"]]


async def test_paginated_users_search_matches_name_and_email(api: Api) -> None:
    ann = await create_user(api, name="Ann Jansen", email="ann@acme.example")
    bob = await create_user(api, name="Bob Smith", email="bob.jansen@globex.example")
    await create_user(api, name="Carla Jones", email="carla@initech.example")

    assert await user_ids(api, 'search: "JANSEN"') == [ann["id"], bob["id"]]
    assert await user_ids(api, 'search: "acme"') == [ann["id"]]
    assert await user_ids(api, 'search: "bob smith"') == [bob["id"]]
    assert await user_ids(api, 'search: "nobody"') == []
