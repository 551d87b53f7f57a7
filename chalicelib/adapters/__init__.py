"""The outside world behind the ports of `chalicelib/domain/ports.py`: DynamoDB (`dynamo/`),
SES (`ses.py`), Step Functions (`stepfunctions.py`), and in-memory stand-ins for tests
(`memory.py`). Only `chalicelib/bootstrap.py` chooses which."""
