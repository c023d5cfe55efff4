"""Development tooling run by the Makefile.

Every tool runs the CDK CLI and the jsii kernel on the project's pinned Node: set here, before any tool
module imports CDK code (jsii starts its kernel on the first import), for ``python -m tools.<tool>``.
"""

from devtools import use_project_node

use_project_node()
