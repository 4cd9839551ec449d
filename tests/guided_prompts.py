"""Asks SAM CLI's own guided-deploy code whether `sam deploy --guided` would stop at
"<function> has no authentication. Is this okay? [y/N]" (whose default aborts the deploy):
it asks that of every function with an Api or HttpApi event and no Auth. Tollgate
authenticates each route itself, and its HTTP API is plain resources, so there should be none.

Run with the deploy venv's Python (SAM CLI is installed there), from infra/:
`guided_prompts.py template.yaml`. Exits 1 if the prompt would be asked.
"""

import sys

from samcli.commands.deploy.auth_utils import auth_per_resource
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

stacks, _ = SamLocalStackProvider.get_stacks(sys.argv[1])
asked = sorted({name for name, has_auth in auth_per_resource(stacks) if not has_auth})
if asked:
    print(f"FAIL sam deploy --guided would ask whether these may have no authentication: {asked}")
    sys.exit(1)
print("ok   sam deploy --guided asks no \"has no authentication\" question")
