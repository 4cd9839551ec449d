"""The template as CloudFormation will see it: infra/template.yaml after the SAM transform
(aws-sam-translator, offline, the version pinned in tests/requirements.txt).

`sam deploy` uploads each CodeUri and DefinitionUri and puts their S3 locations in the
template before the transform runs; here each CodeUri becomes a placeholder S3 location
(`s3://tollgate-artifacts/<function dir>.zip`) and each DefinitionUri's file is inlined, so
the transform sees what it would see at deploy time, without a network.
"""

import json
import os
from pathlib import Path

from cfnlint.decode import decode

ARTIFACT_BUCKET = "tollgate-artifacts"


class NoManagedPolicies:
    """The transform asks for this map only to resolve managed policies named in `Policies`;
    Tollgate names none, so the map is empty and any such name fails the transform."""

    def load(self):
        return {}


def load(path):
    """The template as plain JSON-compatible data (short-form tags expanded)."""
    template, matches = decode(str(path))
    if matches:
        raise ValueError(f"{path} does not parse: {matches}")
    return json.loads(json.dumps(template))


def artifact_key(code_uri):
    return Path(code_uri).name + ".zip"


def transformed(path, parameters=None, region="us-east-1"):
    """(the SAM template, the CloudFormation template the transform makes of it)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    path = Path(path)
    sam = load(path)
    prepared = json.loads(json.dumps(sam))
    for res in prepared["Resources"].values():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/{artifact_key(props['CodeUri'])}"
        if res.get("Type") == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            with open(path.parent / props.pop("DefinitionUri")) as f:
                props["Definition"] = json.load(f)
    try:
        cfn = transform(prepared, dict(parameters or {}), NoManagedPolicies())
    except InvalidDocumentException as e:
        raise ValueError("the SAM transform failed: " + "; ".join(str(c) for c in e.causes)) from e
    return sam, cfn


if __name__ == "__main__":
    import sys

    print(json.dumps(transformed(sys.argv[1])[1], indent=1))
