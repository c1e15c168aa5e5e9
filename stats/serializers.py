"""Response shapes of the HTTP API, for the OpenAPI schema."""

from rest_framework import serializers


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the request was refused")


class LabelsSerializer(serializers.DictField):
    child = serializers.CharField()


class SlotSnapshotSerializer(serializers.Serializer):
    slot_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["empty", "waiting", "full"])
    board_size = serializers.IntegerField(allow_null=True)
    series_length = serializers.IntegerField(allow_null=True)
    player_count = serializers.IntegerField()
    connected_player_count = serializers.IntegerField()
    players = serializers.ListField(child=serializers.IntegerField())
    player_models = serializers.DictField(child=serializers.CharField(), help_text='Keyed "-1" (red) and "1" (blue).')
    player_usernames = serializers.DictField(child=serializers.CharField())
    connected_players = serializers.ListField(child=serializers.IntegerField())
    disconnected_players = serializers.ListField(child=serializers.IntegerField())
    current_turn = serializers.IntegerField(allow_null=True)
    winner = serializers.IntegerField(allow_null=True)
    move_count = serializers.IntegerField()
    board = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()), allow_null=True,
        help_text="board[r][q]: 0 empty, -1 red, 1 blue",
    )
    wins_required = serializers.IntegerField(allow_null=True)
    current_game_number = serializers.IntegerField(allow_null=True)
    player_1_wins = serializers.IntegerField()
    player_2_wins = serializers.IntegerField()
    series_winner = serializers.IntegerField(allow_null=True)


class TotalsSerializer(serializers.Serializer):
    matches = serializers.IntegerField()
    games = serializers.IntegerField()
    models = serializers.IntegerField()
    model_entries = serializers.IntegerField()


class LeaderboardRowSerializer(serializers.Serializer):
    model_name = serializers.CharField()
    username = serializers.CharField(allow_null=True)
    matches = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    games_won = serializers.IntegerField()
    games_lost = serializers.IntegerField()
    win_rate = serializers.FloatField()


class RecentMatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slot_id = serializers.IntegerField()
    board_size = serializers.IntegerField()
    series_length = serializers.IntegerField()
    games_played = serializers.IntegerField()
    winner = serializers.IntegerField()
    player_1_model = serializers.CharField(allow_null=True)
    player_2_model = serializers.CharField(allow_null=True)
    player_1_username = serializers.CharField(allow_null=True)
    player_2_username = serializers.CharField(allow_null=True)
    player_1_wins = serializers.IntegerField()
    player_2_wins = serializers.IntegerField()
    completed_at = serializers.DateTimeField()


class RatingRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    model_name = serializers.CharField()
    username = serializers.CharField()
    rating = serializers.FloatField(help_text="Conservative rating mu - 3 sigma (openskill Plackett-Luce); "
                                              "the ranking key")
    mu = serializers.FloatField()
    sigma = serializers.FloatField()
    games = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    verified = serializers.BooleanField()


class StatisticsSerializer(serializers.Serializer):
    persistence_enabled = serializers.BooleanField()
    totals = TotalsSerializer()
    leaderboard = LeaderboardRowSerializer(many=True)
    board_sizes = serializers.DictField(child=serializers.IntegerField())
    series_lengths = serializers.DictField(child=serializers.IntegerField())
    recent_matches = RecentMatchSerializer(many=True)
    ratings = RatingRowSerializer(many=True, help_text="Extension: rated games of verified bots only; per board "
                                                       "size with ?board_size=, else over all sizes")
