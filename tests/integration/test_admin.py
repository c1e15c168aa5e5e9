"""The Django admin shows play readably and never a token."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from matchmaking import protocol as proto
from matchmaking import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    User.objects.create_superuser("admin", "admin@example.org", "pw-for-tests-only")
    client.login(username="admin", password="pw-for-tests-only")
    return client


@pytest.fixture
def game_in_progress(settings):
    settings.HEX_MAX_CONNECTIONS_PER_IP = 0
    request = proto.MatchRequest(7, 3, -1, "alpha_bot", "alice")
    red = services.matchmake(request, "10.0.0.1", "chan-red", "proc")
    blue = services.matchmake(proto.MatchRequest(7, 3, -1, "beta_bot", "bob"), "10.0.0.2", "chan-blue", "proc")
    services.apply_move(red.identity.slot_id, red.identity.seat_id, "chan-red", 3, 2)
    tokens = [red.messages["chan-red"][0]["payload"]["reconnect_token"],
              blue.messages["chan-blue"][0]["payload"]["reconnect_token"]]
    return red.identity.slot_id, tokens


@pytest.mark.parametrize("model", ["matchmaking/slot", "matchmaking/seat", "games/series", "games/game", "games/move"])
def test_every_admin_list_and_change_page_renders_without_tokens(staff_client, game_in_progress, model):
    _slot_id, tokens = game_in_progress
    listing = staff_client.get(f"/admin/{model}/")
    assert listing.status_code == 200
    detail = staff_client.get(f"/admin/{model}/1/change/")
    assert detail.status_code == 200
    for page in (listing, detail):
        text = page.content.decode()
        assert not any(token in text for token in tokens)
        assert "token_hash" not in text


def test_admin_draws_the_board_and_filters_and_searches(staff_client, game_in_progress):
    slot_id, _ = game_in_progress
    page = staff_client.get(f"/admin/matchmaking/slot/{slot_id}/change/").content.decode()
    # Red's stone at q=3, r=2 is the last move, drawn lower-case in row 3.
    assert "   3 · · · r · · ·\n" in page
    found = staff_client.get("/admin/games/series/?q=alice").content.decode()
    assert "alpha_bot" in found
    missing = staff_client.get("/admin/games/series/?q=nobody-like-this").content.decode()
    assert "alpha_bot" not in missing
    assert staff_client.get("/admin/matchmaking/slot/?state__exact=full&board_size=7").status_code == 200


def test_admin_issues_a_bot_token_once_and_revokes_it(staff_client):
    from matchmaking.models import BotToken

    response = staff_client.post("/admin/matchmaking/bottoken/add/",
                                 {"username": "ann", "model_name": "hexnet", "note": "house bot"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    row = BotToken.objects.get()
    token = page.split("<code>", 1)[1].split("</code>", 1)[0]
    assert token.startswith("hexbot_") and row.token_hash == services.hash_token(token)
    assert services.resolve_identity("", "", token) == ("hexnet", "ann", True)
    # Never again: not in the list, not on the change page, no hash either.
    for path in ("/admin/matchmaking/bottoken/", f"/admin/matchmaking/bottoken/{row.pk}/change/"):
        text = staff_client.get(path).content.decode()
        assert token not in text and row.token_hash not in text
    staff_client.post("/admin/matchmaking/bottoken/", {"action": "revoke", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.revoked
    with pytest.raises(services.ServiceError, match="revoked"):
        services.resolve_identity("", "", token)


@pytest.mark.parametrize("model", ["stats/rating", "stats/ratingchange", "matchmaking/bottoken"])
def test_rating_and_token_admin_lists_render(staff_client, model):
    assert staff_client.get(f"/admin/{model}/").status_code == 200


def test_an_admin_edit_of_a_slot_keeps_a_spectator_who_arrived_meanwhile(rf, game_in_progress):
    from django.contrib import admin
    from django.forms.models import model_to_dict

    from matchmaking import spectators
    from matchmaking.models import Slot

    slot_id, _ = game_in_progress
    model_admin = admin.site._registry[Slot]
    request = rf.post("/")
    request.user = User.objects.create_superuser("admin", "admin@example.org", "pw-for-tests-only")
    slot = Slot.objects.get(id=slot_id)  # as the admin read it, before the spectator came
    spectators.add_watcher(slot_id, "spectator-channel", "proc")
    form = model_admin.get_form(request, slot, change=True)({**model_to_dict(slot), "board_size": 9}, instance=slot)
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    stored = Slot.objects.get(id=slot_id)
    assert (stored.board_size, stored.spectators) == (9, 1)
