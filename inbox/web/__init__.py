"""Server-rendered pages (Jinja2) and the small amount of JavaScript the inbox needs."""
