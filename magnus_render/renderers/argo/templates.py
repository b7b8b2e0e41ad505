"""The shared container templates every leaf and fan task runs through.

A *profile* is one set of step settings (the global one, or the global one patched by an
``overrides`` entry). Each profile gets at most five kinds of container template, each in
a plain and a map variant (the map variant takes a ``map-variable`` input). Steps pass
their internal name as an input parameter, so a 1,000-step pipeline still has a handful
of templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from magnus_render.contract.k8s_pod import argo_template_fields
from magnus_render.contract.k8s_spec import literal
from magnus_render.contract.naming import UniqueNames, dns_label
from magnus_render.contract.protocol import submit_options
from magnus_render.renderers.argo.settings import StepSettings
from magnus_render.renderers.base import (
    RenderOptions,
    fan_argv,
    node_argv,
    with_options,
)

#: the run id: the ``run_id`` workflow argument, else (empty, the default) the workflow's
#: name. An expression, as Argo does not substitute ``{{workflow.name}}`` inside a
#: workflow argument's value before that value is substituted into a template.
RUN_ID = "{{=workflow.parameters.run_id == '' ? workflow.name : workflow.parameters.run_id}}"
#: the ``use_cached`` workflow argument: empty (a fresh run) or the run to re-run
USE_CACHED = "{{workflow.parameters.use_cached}}"
NAME_INPUT = "{{inputs.parameters.name}}"
MAP_INPUT = "{{inputs.parameters.map-variable}}"
#: an as-is step's render_string, ``$`` doubled (Kubernetes expands ``$(VAR)`` in commands)
AS_IS_INPUT = "{{inputs.parameters.as-is}}"
ITEMS_FILE = "/tmp/magnus-items.json"
ITEMS_OUTPUT = "items"
#: kinds of container template; ``fail`` runs the fail node and then exits 1 (see argo/__init__)
KINDS = ("node", "fail", "fan-out", "fan-out-items", "fan-in", "as-is")
#: ``sh -c SCRIPT ARG0 ARGS...``: run ARGS as one command (no string building), then fail
FAIL_WRAPPER = ["sh", "-c", '"$@"; exit 1', "magnus-fail"]
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass
class Profile:
    """One set of step settings and the templates made for it so far."""

    key: str  # "" for the global settings, else the override's name
    settings: StepSettings
    names: dict[tuple[str, bool], str] = field(default_factory=dict)


@dataclass(eq=False)
class TemplateFactory:
    """Creates container templates on first use, in a stable order."""

    options: RenderOptions
    image: str
    names: UniqueNames
    volume_names: UniqueNames
    workflow_service_account: str | None
    #: the initial parameters, each a workflow argument (JSON) passed as ``--param``
    parameter_names: tuple[str, ...] = ()
    templates: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)

    def get(self, profile: Profile, kind: str, mapped: bool) -> str:
        """The name of ``profile``'s template of ``kind`` (created if needed)."""
        found = profile.names.get((kind, mapped))
        if found is not None:
            return found
        text = f"magnus-{kind}" + ("-map" if mapped else "")
        if profile.key:
            text += "-" + dns_label(profile.key, 30)
        name = self.names.name(("template", kind, mapped, profile.key), text)
        profile.names[(kind, mapped)] = name
        self.templates[name] = self._template(name, profile.settings, kind, mapped)
        return name

    def _argv(self, settings: StepSettings, kind: str, mapped: bool) -> list[str]:
        map_variable = MAP_INPUT if mapped else None
        if kind in ("node", "fail", "as-is"):
            argv = node_argv(self.options, RUN_ID, NAME_INPUT, map_variable)
            if kind == "as-is":  # execute_single_node records it while `sh -c TEXT` runs
                argv = with_options(argv, "--as-is", AS_IS_INPUT)
        else:
            mode = "in" if kind == "fan-in" else "out"
            items = ITEMS_FILE if kind == "fan-out-items" else None
            argv = fan_argv(self.options, RUN_ID, NAME_INPUT, mode, map_variable, items)
        params = {n: f"{{{{workflow.parameters.{n}}}}}" for n in self.parameter_names}
        argv = with_options(argv, *submit_options(USE_CACHED, params))
        argv = [*settings.command_prefix, *argv]
        argv = [*FAIL_WRAPPER, *argv] if kind == "fail" else argv
        # Kubernetes expands $(VAR) and $$ in commands: every word must arrive as written
        return [literal(word) for word in argv]

    def _template(
        self, name: str, settings: StepSettings, kind: str, mapped: bool
    ) -> dict[str, Any]:
        inputs = [{"name": "name"}] + ([{"name": "map-variable"}] if mapped else [])
        if kind == "as-is":
            inputs.append({"name": "as-is"})
        template: dict[str, Any] = {"name": name, "inputs": {"parameters": inputs}}
        meta = {}
        if settings.labels:
            meta["labels"] = dict(sorted(settings.labels.items()))
        if settings.annotations:
            meta["annotations"] = dict(sorted(settings.annotations.items()))
        if meta:
            template["metadata"] = meta
        template["container"] = self._container(settings, kind, mapped)
        if kind == "fan-out-items":
            template["outputs"] = {
                "parameters": [{"name": ITEMS_OUTPUT, "valueFrom": {"path": ITEMS_FILE}}]
            }
        if settings.node_selector:
            template["nodeSelector"] = dict(sorted(settings.node_selector.items()))
        if settings.tolerations:
            template["tolerations"] = [
                t.model_dump(by_alias=True, exclude_none=True) for t in settings.tolerations
            ]
        if settings.affinity:
            template["affinity"] = settings.affinity
        if settings.retry_strategy is not None and kind != "fail":
            # the fail node's pod always exits 1: retrying it would only repeat it
            retry = settings.retry_strategy.model_dump(by_alias=True, exclude_none=True)
            # Argo's default policy (OnFailure) would re-run steps that failed after their
            # max_attempts, adding attempts the local run never makes: default to OnError
            retry.setdefault("retryPolicy", "OnError")
            template["retryStrategy"] = retry
        if settings.max_step_duration is not None:
            template["activeDeadlineSeconds"] = settings.max_step_duration
        account = settings.service_account_name
        if account and account != self.workflow_service_account:
            template["serviceAccountName"] = account
        template.update(argo_template_fields(settings))
        return template

    def _container(self, settings: StepSettings, kind: str, mapped: bool) -> dict[str, Any]:
        container: dict[str, Any] = {
            "image": settings.image or self.image,
            "command": self._argv(settings, kind, mapped),
        }
        if settings.image_pull_policy:
            container["imagePullPolicy"] = settings.image_pull_policy
        env: list[dict[str, Any]] = [
            {"name": key, "value": literal(value)} for key, value in sorted(settings.env.items())
        ]
        env += [
            {"name": s.env, "valueFrom": {"secretKeyRef": {"name": s.name, "key": s.key}}}
            for s in settings.secrets_from_k8s
        ]
        if env:
            container["env"] = env
        resources = _resources(settings)
        if resources:
            container["resources"] = resources
        mounts = []
        for volume in settings.persistent_volumes:
            vname = self.volume_names.name(volume.name, f"pvc-{volume.name}")
            claim = {"claimName": volume.name}
            self.volumes[vname] = {"name": vname, "persistentVolumeClaim": claim}
            mount: dict[str, Any] = {"name": vname, "mountPath": volume.mount_path}
            if volume.read_only:
                mount["readOnly"] = True
            mounts.append(mount)
        if mounts:
            container["volumeMounts"] = mounts
        if settings.security_context:
            container["securityContext"] = dict(settings.security_context)
        return container


def _resources(settings: StepSettings) -> dict[str, Any]:
    if settings.resources is None:
        return {}
    out: dict[str, Any] = {}
    for part in ("requests", "limits"):
        amounts = getattr(settings.resources, part)
        values: dict[str, Any] = {}
        if amounts.cpu is not None:
            values["cpu"] = str(amounts.cpu)
        if amounts.memory is not None:
            values["memory"] = str(amounts.memory)
        if amounts.gpu is not None:
            values[GPU_RESOURCE] = str(amounts.gpu)
        if values:
            out[part] = values
    return out
