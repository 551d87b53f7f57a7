"""What people do through one-time links in their emails: sign off, answer a question, accept
the agreement, record the release of money, review, close, withdraw. `links.py` is the one
implementation of one-time links (staff sign-in uses it too), `commands.py` the changes each
action makes, `forms.py` how each form is checked, `pages.py` what the links show and do."""
