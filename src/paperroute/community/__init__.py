"""The research community: discussion threads (discussion.py) and notifications
(notifications.py). Both the web pages and the JSON API call these use cases; the Markdown
renderer is handed in by the composition root (app.py), since rendering HTML is web's."""
