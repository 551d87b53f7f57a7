"""The code the Lambda functions run: `domain/` (the pure core), a package per capability
(`intake/`, `actions/`, `workflow/`, `staff/`), the AWS adapters (`adapters/`), web helpers
(`web/`), the settings (`config.py`) and the composition root (`bootstrap.py`)."""
