"""Every fixed policy number in one place: how long links, sessions and drafts last, how much
may be typed, how big a page is. What a charity may change per deployment is a setting instead
(`chalicelib/config.py`: thresholds, reminder periods, retention, the action link lifetime)."""

from __future__ import annotations

DAY = 24 * 3600

# --- one-time links -------------------------------------------------------------------------
# An action link (sign-off, agreement, ...) works for `PHB_LINK_VALID_DAYS` days; these are the
# exceptions. The withdraw and amend links in the acknowledgement work while the referral is
# open (a PHB lasts at most 6 months from the referral); so does a copy of the agreement, for
# the person and the referrer to read again.
WITHDRAW_LINK_DAYS = 366
AMEND_LINK_DAYS = 366
AGREEMENT_COPY_LINK_DAYS = 366
# The link to read why a request was not approved: this many times the usual lifetime.
OUTCOME_LINK_LIFETIMES = 4
STAFF_SIGN_IN_LINK_SECONDS = 15 * 60
# How long a link's record is kept after it stops working, for the audit trail (then TTL).
ACTION_LINK_KEPT_SECONDS = 365 * DAY
SIGN_IN_LINK_KEPT_SECONDS = 30 * DAY

# The windows the email caps per address count in (their sizes are settings).
SIGN_IN_CAP_SECONDS = 15 * 60
ACKNOWLEDGEMENT_CAP_SECONDS = 3600
# What the caps held back is shown to the advisors (the worklist) for a week.
HELD_BACK_SHOWN_SECONDS = 7 * DAY

# --- staff sessions -------------------------------------------------------------------------
STAFF_SESSION_SECONDS = 8 * 3600

# --- a referrer's own referrals (/my-referrals) -----------------------------------------------
REFERRER_SIGN_IN_LINK_SECONDS = 15 * 60
REFERRER_SIGN_IN_CAP = 5  # links to one mailbox in REFERRER_SIGN_IN_CAP_SECONDS at most
REFERRER_SIGN_IN_CAP_SECONDS = 15 * 60
# A working day, as staff's: no longer than STAFF_SESSION_SECONDS (the cookie's check).
REFERRER_SESSION_SECONDS = 8 * 3600
# The waiting step's email again from the referrer's page: at most this many in the window.
REFERRER_RESEND_CAP = 5
REFERRER_RESEND_CAP_SECONDS = 15 * 60

# --- the referral form and the API ----------------------------------------------------------
DRAFT_SECONDS = 2 * DAY  # a form in progress is kept this long after its last save
IDEMPOTENCY_SECONDS = DAY  # a submission key returns the same referral for this long
MAX_BODY_BYTES = 64 * 1024  # the API's and every form's request body
MAX_FORM_FIELD_CHARS = 5000
MAX_FORM_FIELDS = 500
MAX_GOALS = 3
MAX_ITEMS = 10
REQOL_QUESTIONS = 10
REQOL_SCORES = ("0", "1", "2", "3", "4")

# --- the goal and age rules -----------------------------------------------------------------
ADULT_AGE = 18
OLDEST_AGE = 120
GOAL_MONTHS_AT_MOST = 6
GOAL_MONTHS_NORMALLY = 3  # further away is accepted with a warning

# --- what people type along the way ---------------------------------------------------------
MAX_TEXT = 2000  # reasons, questions, answers, notes, review and closure notes
MAX_TYPED_NAME = 200  # the name typed to accept the agreement
MAX_REFERENCE_TYPED = 40

# --- the staff console ----------------------------------------------------------------------
PAGE_SIZE = 25
MAX_REPORT_RANGE_DAYS = 3653  # 10 years: the quarterly return lists every quarter in the range
SIGN_OFF_TARGET_DAYS = 3  # under the fast-track limit: money within 2–3 days of the referral
