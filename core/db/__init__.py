"""Database helpers: durable service transactions and error mapping, millisecond instants, and the
abstract base model."""
