"""The parking product: the entry dialogue (no torch), the lot's SQLite database, the speech in and
out of the front ends, and the web kiosk (its app and its page in web/). Never imports training."""
