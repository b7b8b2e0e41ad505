"""Front end: pipeline YAML -> validated, immutable IR graph."""

from magnus_render.pipeline.build import Pipeline, load_pipeline, load_pipeline_text
from magnus_render.pipeline.ir import Graph, Node, NodeKind

__all__ = ["Graph", "Node", "NodeKind", "Pipeline", "load_pipeline", "load_pipeline_text"]
