"""The pure core of PHB Pathway: what a referral is, its codes and labels, the funding rules,
statuses and transitions, the policy numbers, outcomes, report computations and the records the
store returns.

Nothing here does I/O or imports chalice, boto3, botocore or jinja2
(tests/unit/test_domain_is_pure.py walks every module to prove it), so every rule can be read in
one place and tested without AWS.
"""
