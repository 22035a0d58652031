"""The admin kit: model admins and forms that write through the services."""
