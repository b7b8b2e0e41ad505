"""AWS Step Functions target: ASL JSON (optionally wrapped in CloudFormation).

Tasks run the container protocol on AWS Batch (default) or ECS as ``.sync`` tasks; maps
are Distributed Maps reading the items ``magnus fan --mode out`` wrote to S3. A
definition over the 1 MB quota is split into nested state machines (see ``split``).
"""

from __future__ import annotations

from magnus_render.renderers.stepfunctions.renderer import StepFunctionsRenderer

__all__ = ["StepFunctionsRenderer"]
