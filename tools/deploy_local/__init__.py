"""`make deploy-local`: the real `cdk deploy` of every example environment against a local AWS endpoint.

No AWS account, no Docker: localstack-core with its CloudFormation runs on this machine from
`.localstack-full-venv` (`endpoint.py`, `start_endpoint.py`); the project's pinned CDK CLI bootstraps
and deploys every stage of a fresh synthesis (`assembly.py`); what was deployed is compared with what
was synthesized, references resolved against the deployed stacks (`resolve.py`, `checks.py`); the
derive handler and the command line then run against the deployed keys (`exercise.py`); on `dev`, a
replacing change is refused by synthesis and, forced past it, by the deploy guard, while the same intent as
a new generation deploys and the old generation still derives as before (`guard_demo.py`); every stage is
destroyed and the endpoint stopped. `run.py` orders the steps and prints them with their times.
"""
