"""Start the local AWS endpoint that `make deploy-local` deploys to: localstack-core with CloudFormation.

Run by the Python of `.localstack-full-venv` (never the project's), as
`.localstack-full-venv/bin/python tools/deploy_local/start_endpoint.py`, with the usual localstack
settings in the environment (SERVICES, GATEWAY_LISTEN, ...; `tools/deploy_local/endpoint.py` sets them).

Without Docker, localstack cannot create an `AWS::Lambda::Function`: when a function version is
created it prepares the Docker executor (downloads the runtime-init binary, pulls the runtime image)
and the stack fails with `Installation of lambda-runtime ... failed`. The two class methods below
are that preparation and the "is Docker there?" check (run at startup, it only logs a warning); as
no-ops, functions reach `Active` with their configuration, code location and permissions stored, and
only invoking them fails
(`DockerNotAvailable`). `make deploy-local` never invokes them: it runs the handler in-process with
the deployed function's environment instead.

Pinned to the one localstack version whose internals this was checked against: on any other version
the script refuses to start rather than stubbing methods that may have moved or changed meaning.
"""

from __future__ import annotations

import sys
from importlib.metadata import version

PINNED_VERSION = "2026.3.0"  # also in localstack-full-constraints.txt and the Makefile


def main() -> None:
    installed = version("localstack-core")
    if installed != PINNED_VERSION:
        sys.exit(
            f"start_endpoint: localstack-core {installed} installed, this script is for {PINNED_VERSION} only"
        )

    from localstack.runtime import main as runtime_main
    from localstack.services.lambda_.invocation.docker_runtime_executor import DockerRuntimeExecutor

    # Skip the Docker executor's preparation of each function version (runtime download, image pull).
    DockerRuntimeExecutor.prepare_version = classmethod(lambda cls, function_version: None)
    # Skip the Docker check at startup (its result is unused; it only warns that Docker is missing).
    DockerRuntimeExecutor.validate_environment = classmethod(lambda cls: True)

    runtime_main.main()


if __name__ == "__main__":
    main()
