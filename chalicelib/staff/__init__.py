"""The staff console for PHB advisors: signing in (`sign_in.py`, over the session cookie of
`sessions.py`), the worklist, a referral's case page and what advisors do there, the reports for
commissioners, and data protection (subject-access export, retention)."""
