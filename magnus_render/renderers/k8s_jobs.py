"""The k8s-jobs target: plain Kubernetes manifests that run a pipeline without Argo.

Output, one YAML document each: a ConfigMap with the pipeline (and included files), the
config and the parameters; a ServiceAccount, Role and RoleBinding granting the driver
exactly what the k8s-job executor calls; a driver Job (or a CronJob with --schedule) that
runs the pipeline with the k8s-job executor (``magnus-k8s-driver``: ``magnus execute``
that resumes a run when its pod is restarted), which then creates one Job per node.
The driver Job has a ``generateName`` (its generated name is the run id), or the name of
``--run-id``; ``--use-cached OLD`` renders a re-run of OLD. Initial parameters given at
submit are ``MAGNUS_PRM_<name>`` variables added to the driver's environment.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import yaml

from magnus_render import yamltext
from magnus_render.contract import k8s_spec
from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import NodeKind
from magnus_render.renderers.base import PLACEHOLDER_IMAGE, Renderer, RenderResult
from magnus_render.renderers.cron import check_schedule, check_timezone
from magnus_render.renderers.shared_stores import check_shared_stores

#: the Role's rules: what the driver's executor needs, nothing more
DRIVER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]
#: Kubernetes versions the output is validated against (kubernetes-validate --strict)
VALIDATE_VERSIONS = ("1.30.0", "1.34.0")
#: the longest CronJob name Kubernetes accepts (it appends an 11-character suffix)
CRONJOB_NAME_MAX = 52


def dump_documents(documents: list[dict[str, Any]]) -> str:
    """Multi-document YAML with sorted keys, embedded files as literal blocks: same
    objects, same bytes."""
    return yamltext.dump_all(documents, yamltext.MANIFEST)


class K8sJobsRenderer(Renderer):
    name: ClassVar[str] = "k8s-jobs"
    description: ClassVar[str] = "Kubernetes driver Job (or CronJob) + RBAC + ConfigMap"
    settings_model = k8s_spec.K8sJobSettings  # type: ignore[assignment]
    max_object_bytes: ClassVar[int | None] = 1024 * 1024  # a ConfigMap's limit

    def render(self) -> RenderResult:
        settings = k8s_spec.settings_from_config(self.config)
        self._check_overrides(settings)
        if self.config.executor.type != k8s_spec.EXECUTOR_TYPE and self.config.source_file:
            self.warn(
                f"{self.config.source_file}: executor is {self.config.executor.type!r}; the "
                f"driver runs the {k8s_spec.EXECUTOR_TYPE} executor with default settings"
            )
        image = self.resolve_image(settings.image)
        check_shared_stores(
            self.config,
            "a Kubernetes Jobs run",
            [
                [m.mount_path for m in each.pvc_mounts if not m.read_only]
                for each in [
                    settings,
                    *(settings.for_step({k8s_spec.EXECUTOR_TYPE: n}) for n in settings.overrides),
                ]
            ],
            "mount a PersistentVolumeClaim in the driver and every node pod with "
            "executor.config.pvc_mounts: [{claim_name: CLAIM, mount_path: /mnt/magnus}]",
        )
        base = k8s_spec.dns_name(f"magnus-{Path(self.pipeline.file).stem}", CRONJOB_NAME_MAX)
        data, items = self._spec_files()
        args_files = ["--config-file", f"{settings.spec_mount_path}/config.yaml"]
        items["config.yaml"] = "config.yaml"
        if self.options.parameters_file:
            data["parameters.yaml"] = self._read(Path(self.options.parameters_file))
            items["parameters.yaml"] = "parameters.yaml"
            args_files += ["--parameters-file", f"{settings.spec_mount_path}/parameters.yaml"]
        settings = settings.model_copy(
            update={
                "image": image,
                "config_map": base,
                "config_map_items": items,
                "service_account": settings.service_account or base,
            }
        )
        data["config.yaml"] = self._config_text(settings)
        labels = {
            **settings.labels,
            "app.kubernetes.io/managed-by": "magnus-render",
            "app.kubernetes.io/name": "magnus",
            "app.kubernetes.io/instance": base,
        }
        meta = {"namespace": settings.namespace, "labels": labels}
        annotations = {"magnus-render/dag-hash": self.pipeline.dag_hash}
        documents = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": base, **meta, "annotations": annotations},
                "data": data,
            },
            *self._rbac(base, settings.service_account or base, meta),
            self._driver(settings, base, meta, annotations, args_files),
        ]
        text = dump_documents(documents)
        limit = self.max_object_bytes
        if limit is not None and len(data) and sum(len(v.encode()) for v in data.values()) > limit:
            raise MagnusError(
                f"{self.pipeline.file}: the ConfigMap would exceed Kubernetes' 1 MiB limit"
            )
        return RenderResult(text, self.warnings)

    # -- parts ----------------------------------------------------------------------------
    def _check_overrides(self, settings: k8s_spec.K8sJobSettings) -> None:
        """Every step's k8s-job override must exist and merge into valid settings."""
        k8s_spec.check_overrides(settings, self.config, self.graph.walk())
        for node in self.graph.walk():
            if k8s_spec.EXECUTOR_TYPE not in node.overrides:
                continue
            if node.kind not in (NodeKind.TASK, NodeKind.STUB, NodeKind.AS_IS):
                self.warn(f"step {node.internal_name!r}: overrides apply to task steps only")

    def _read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MagnusError(f"cannot read: {exc.strerror}", str(path)) from None

    def _spec_files(self) -> tuple[dict[str, str], dict[str, str]]:
        """ConfigMap data for the pipeline and its included files, keyed so that mounting
        the items recreates the same relative layout (includes resolve as they did here)."""
        root = Path(self.pipeline.file)
        files = [root, *(Path(f) for f in self.pipeline.files if Path(f) != root)]
        data: dict[str, str] = {}
        items: dict[str, str] = {}
        seen: set[str] = set()
        for index, path in enumerate(files):
            if index == 0:
                rel = "pipeline.yaml"
            else:
                try:
                    rel = PurePosixPath(
                        Path(path).resolve().relative_to(root.resolve().parent).as_posix()
                    ).as_posix()
                except ValueError:
                    raise MagnusError(
                        f"included file {path} is outside the pipeline's folder; the "
                        "k8s-jobs target can only ship files under it",
                        self.pipeline.file,
                    ) from None
                if rel == "pipeline.yaml" or rel in ("config.yaml", "parameters.yaml"):
                    raise MagnusError(f"included file name {rel!r} is reserved", str(path))
            if rel in seen:
                continue
            seen.add(rel)
            key = rel.replace("/", "__")
            data[key] = self._read(Path(path))
            items[key] = rel
        return data, items

    def _config_text(self, settings: k8s_spec.K8sJobSettings) -> str:
        """The config the driver reads: the user's, with the executor set to k8s-job."""
        config = self.config.model_dump()
        executor = settings.model_dump(mode="json", exclude_defaults=True)
        config["executor"] = {"type": k8s_spec.EXECUTOR_TYPE, "config": executor}
        return yamltext.dump(config, yamltext.MANIFEST)

    def _rbac(self, base: str, account: str, meta: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": account, **meta},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": base, **meta},
                "rules": DRIVER_RULES,
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": base, **meta},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": base},
                "subjects": [
                    {"kind": "ServiceAccount", "name": account, "namespace": meta["namespace"]}
                ],
            },
        ]

    def _driver(
        self,
        settings: k8s_spec.K8sJobSettings,
        base: str,
        meta: dict[str, Any],
        annotations: dict[str, str],
        args_files: list[str],
    ) -> dict[str, Any]:
        mount = settings.spec_mount_path
        # the run id is the driver Job's name: generated by Kubernetes for each created Job
        # (generateName) or each CronJob run, or given with --run-id (then the Job is named
        # after it: applying the same file again changes nothing); the same after a driver
        # pod restart: magnus-k8s-driver is `magnus execute` that resumes such a run
        # (finished nodes are not run again, running node Jobs are adopted)
        run_id, use_cached = self._rerun_options()
        command = [
            "magnus-k8s-driver",
            "--file",
            f"{mount}/pipeline.yaml",
            *args_files,
            "--run-id",
            k8s_spec.EnvRef("MAGNUS_RUN_ID"),
        ]
        if use_cached:
            command += ["--use-cached", use_cached]
        as_is = [n for n in self.graph.walk() if n.kind is NodeKind.AS_IS]
        if any([self.as_is_text(n) is not None for n in as_is]):  # warns for each without
            # the driver's k8s-job executor then runs as-is steps' text in their own Jobs
            command += ["--as-is-target", self.name]
        run_id_env: dict[str, Any] = {
            "name": "MAGNUS_RUN_ID",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}},
        }
        if run_id:
            run_id_env = {"name": "MAGNUS_RUN_ID", "value": k8s_spec.literal(run_id)}
        # the driver Job's name and uid (labels the Job controller puts on its pods, 1.27+):
        # each node Job gets an ownerReference to it
        owner_env = [
            {"name": env, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{label}']"}}}
            for env, label in (
                (k8s_spec.DRIVER_NAME_ENV, "batch.kubernetes.io/job-name"),
                (k8s_spec.DRIVER_UID_ENV, "batch.kubernetes.io/controller-uid"),
            )
        ]
        pod = k8s_spec.pod_spec(
            settings,
            container="driver",
            image=settings.image or PLACEHOLDER_IMAGE,
            command=command,
            service_account=settings.service_account,
            extra_env=[run_id_env, *owner_env],
        )
        labels = {**meta["labels"], "magnus-render/role": "driver"}
        job = k8s_spec.job_spec(
            settings,
            pod,
            labels,
            settings.driver_backoff_limit,
            settings.driver_active_deadline_seconds,
            settings.driver_ttl_seconds_after_finished,
        )
        schedule = self.options.extra.get("schedule")
        if self.options.extra.get("timezone"):
            if not schedule:
                raise MagnusError("--timezone applies only with --schedule (a CronJob)")
            check_timezone(str(self.options.extra["timezone"]))
        if schedule:
            check_schedule(str(schedule))
        if not schedule:
            # one Job per run: a new render never collides with the last run's Job
            name = (
                {"name": k8s_spec.dns_name(run_id, 63)} if run_id else {"generateName": f"{base}-"}
            )
            return {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {**name, **meta, "annotations": annotations},
                "spec": job,
            }
        cron: dict[str, Any] = {
            "schedule": str(schedule),
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {"metadata": {"labels": labels}, "spec": job},
        }
        if self.options.extra.get("timezone"):
            cron["timeZone"] = str(self.options.extra["timezone"])
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": base, **meta, "annotations": annotations},
            "spec": cron,
        }

    def _rerun_options(self) -> tuple[str | None, str | None]:
        """``--run-id`` and ``--use-cached``, checked as run ids (a schedule starts many
        runs, so it takes no run id)."""
        from magnus_render.contract.naming import check_run_id

        run_id, use_cached = self.options.extra.get("run_id"), self.options.extra.get("use_cached")
        for flag, value in (("--run-id", run_id), ("--use-cached", use_cached)):
            if value is not None:
                check_run_id(value, flag)
        if run_id and self.options.extra.get("schedule"):
            raise MagnusError("--run-id names one run; a --schedule starts a new run each time")
        return run_id, use_cached

    # -- checking -------------------------------------------------------------------------
    def validate(self, text: str) -> None:
        """kubernetes-validate --strict for every document and Kubernetes version."""
        validate_manifests(text, self.options.pipeline_file)


def validate_manifests(text: str, where: str = "<rendered>") -> None:
    """Raise MagnusError listing each document that fails strict validation."""
    try:
        import kubernetes_validate
    except ImportError:
        raise MagnusError(
            "--validate needs kubernetes-validate: pip install 'magnus-render[dev]'"
        ) from None
    problems: list[str] = []
    for index, doc in enumerate(yaml.safe_load_all(text)):
        for version in VALIDATE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                kind = doc.get("kind", "?")
                problems.append(f"document {index + 1} ({kind}), Kubernetes {version}: {exc}")
    if problems:
        raise MagnusError(f"{where}: rendered manifests are invalid:\n" + "\n".join(problems))
