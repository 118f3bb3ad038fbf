"""Web glue shared by the admin panel and later the portal: login, template filters."""
