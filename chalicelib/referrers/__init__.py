"""A referrer's own referrals at /my-referrals: signing in by an emailed one-time link, the
list of their referrals with what waits on them, and acting on their own."""
