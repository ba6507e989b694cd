# Columns with a database default: no table rewrite on PostgreSQL 11+, and inserts that do not
# name them (the store's SQL for untraced work) get "".

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trax', '0012_manifest_index_newest_run'),
    ]

    operations = [
        migrations.AddField(
            model_name='metadata',
            name='trace_parent',
            field=models.CharField(blank=True, db_default='', default='', max_length=64),
        ),
        migrations.AddField(
            model_name='workqueue',
            name='trace_parent',
            field=models.CharField(blank=True, db_default='', default='', max_length=64),
        ),
    ]
