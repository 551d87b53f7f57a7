"""Taking referrals in: the clinician's form (pages and the draft between them), the JSON API
and its OpenAPI document, and submission (store first, then start the workflow)."""
