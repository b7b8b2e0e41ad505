"""What the runtime and the renderers share, below both of them.

The container protocol (the command lines a spec may call, :mod:`.protocol`), the naming rules for
orchestrator-legal names (:mod:`.naming`), the Kubernetes settings and object bodies
(:mod:`.k8s_spec`) and where a run's initial parameters come from (:mod:`.parameters`,
which a rendered run may take again at submit). A renderer writes these into a spec and
an executor launches or creates them at run time; keeping them here lets neither side
import the other.
"""
