"""chartgen: serverless-workflow folders in; validated manifests, Helm charts, images,
pull requests and a published Helm repository out.

Kept import-light on purpose: `chartgen --version` must stay fast, so heavy modules
(helm_python, github, jsonschema, jq) are imported inside the functions that use them.
"""

__version__ = "0.1.0"
