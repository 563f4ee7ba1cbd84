"""Durable jobs: a queue in the database and the node's worker; capture registers its kind
(``POST /capture``), the GSP outbox and webhooks are to follow. Knows no kind of job."""
