"""Ordered SQL migrations, applied once each at startup (see ``service.users.migrate``)."""
