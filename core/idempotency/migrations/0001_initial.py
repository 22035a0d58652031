"""Adopt the idempotency_records table, created by bookings 0003, into this app's state.

The model moved from the bookings app; its table name is explicit, so nothing in the database
changes. On a fresh database bookings 0003 still creates the table before this runs.
"""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import core.db.instants


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("bookings", "0004_booking_events_append_only"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='IdempotencyRecord',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('key', models.CharField(max_length=255)),
                        ('fingerprint', models.CharField(max_length=64)),
                        ('state', models.CharField(choices=[('IN_PROGRESS', 'In Progress'), ('COMPLETED', 'Completed')], max_length=16)),
                        ('attempt', models.UUIDField(default=uuid.uuid4)),
                        ('claimed_at', models.DateTimeField(default=core.db.instants.now_ms)),
                        ('response_status', models.IntegerField(blank=True, null=True)),
                        ('response_body', models.TextField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=core.db.instants.now_ms)),
                        ('completed_at', models.DateTimeField(blank=True, null=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='idempotency_records', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'idempotency_records',
                        'indexes': [models.Index(fields=['created_at'], name='idempotency_created_idx')],
                        'constraints': [models.UniqueConstraint(fields=('user', 'key'), name='idempotency_records_user_key'), models.CheckConstraint(condition=models.Q(models.Q(('completed_at__isnull', True), ('state', 'IN_PROGRESS')), models.Q(('completed_at__isnull', False), ('response_body__isnull', False), ('response_status__isnull', False), ('state', 'COMPLETED')), _connector='OR'), name='idempotency_records_completed_has_outcome')],
                    },
                ),
            ],
        ),
    ]
