"""The state machine's side: the Lambda tasks it runs (`tasks.py`), who is emailed what and
with which link (`notices.py`, worded in `wording.py`), and how AWS failures are named for its
Retry and Catch (`failures.py`). The state machine itself is built by `infra/pathway.py`."""
