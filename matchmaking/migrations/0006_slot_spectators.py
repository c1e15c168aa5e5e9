from django.db import migrations, models
from django.db.models import Count


def count_spectators(apps, schema_editor):
    """Spectators connected while the server was upgraded keep being counted."""
    Slot = apps.get_model("matchmaking", "Slot")
    Watcher = apps.get_model("matchmaking", "Watcher")
    for row in Watcher.objects.values("slot_id").annotate(n=Count("id")).order_by():
        Slot.objects.filter(id=row["slot_id"]).update(spectators=row["n"])


class Migration(migrations.Migration):

    dependencies = [
        ('matchmaking', '0005_slot_state_id_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='slot',
            name='spectators',
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(count_spectators, migrations.RunPython.noop),
    ]
