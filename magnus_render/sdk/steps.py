"""The SDK's step objects. Each one is only a record of what the user wrote and where.

Nothing is validated here on purpose: a step turns into the same mapping the YAML would
hold and goes through the YAML front end's checks, so both forms give the same IR and the
same errors, with the Python line of the bad step in place of a YAML line. Unknown
keyword arguments are kept for the same reason (the front end names them and suggests
the closest field).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from magnus_render.errors import PipelineError
from magnus_render.sdk.source import Location, caller

if TYPE_CHECKING:
    from typing_extensions import Unpack


class Catalog:
    """Files a step gets from the catalog before it runs and puts there after it succeeds."""

    def __init__(self, get: Iterable[str] = (), put: Iterable[str] = ()) -> None:
        self.get = list(get)
        self.put = list(put)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.get:
            out["get"] = list(self.get)
        if self.put:
            out["put"] = list(self.put)
        return out

    def __repr__(self) -> str:
        return f"Catalog(get={self.get!r}, put={self.put!r})"


def _target_name(value: Any) -> Any:
    return value.name if isinstance(value, Step) else value


class Wiring(TypedDict, total=False):
    """The keywords every routed step takes after its own (magnus 0.5's names and order)."""

    next: str | Step | None
    on_failure: str | Step | None
    overrides: Mapping[str, str] | None
    terminate_with_success: bool
    terminate_with_failure: bool


def _wired(
    wiring: Mapping[str, Any], own: Mapping[str, Any], extras_first: bool = False
) -> dict[str, Any]:
    """A step's fields: its own, those of the wiring keywords (in that order) and any
    unknown keywords (kept for the front end, which names them; a stub keeps them first)."""
    unknown = dict(wiring)
    fields = {key: unknown.pop(key, None) for key in Wiring.__annotations__}
    fields["overrides"] = _copy(fields["overrides"])
    for key in ("terminate_with_success", "terminate_with_failure"):
        fields[key] = fields[key] or None
    fields = {"overrides": fields.pop("overrides"), **fields}
    if extras_first:
        return {**unknown, **own, **fields}
    return {**own, **fields, **unknown}


def _spelled_out(cls: type[Step]) -> None:
    """Show a constructor's ``**wiring`` as the keywords it stands for (help(), inspect,
    IDEs) in magnus 0.5's order, then ``**unknown``: the wiring is declared once here."""
    init = cls.__dict__["__init__"]
    signature = inspect.signature(init)
    *own, last = signature.parameters.values()
    if last.kind is not inspect.Parameter.VAR_KEYWORD or last.name != "wiring":
        return
    keyword = inspect.Parameter.KEYWORD_ONLY
    wiring = [
        inspect.Parameter(key, keyword, default=False if hint == "bool" else None, annotation=hint)
        for key, hint in ((k, v.__forward_arg__) for k, v in Wiring.__annotations__.items())
    ]
    order = cls.keyword_order
    keywords = sorted(
        [p for p in own if p.kind is keyword] + wiring,
        key=lambda p: order.index(p.name) if p.name in order else len(order),
    )
    positional = [p for p in own if p.kind is not keyword]
    rest = inspect.Parameter(cls.rest_name, inspect.Parameter.VAR_KEYWORD, annotation="Any")
    init.__signature__ = signature.replace(parameters=[*positional, *keywords, rest])


class Step:
    """Common to every step: a name and the line of the user's code that made it."""

    node_type: ClassVar[str] = ""
    #: whether the step has next/on_failure (terminal steps do not)
    traversal: ClassVar[bool] = True
    #: keywords shown first in the signature, in this order (magnus 0.5's); then the rest
    keyword_order: ClassVar[tuple[str, ...]] = ()
    #: the name of the signature's ``**`` parameter
    rest_name: ClassVar[str] = "unknown"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            _spelled_out(cls)

    def __init__(self, name: str, fields: dict[str, Any]) -> None:
        self.name = name
        self.location: Location = caller()
        #: where fields set after construction were set (``a >> b``), for messages
        self.field_locations: dict[str, Location] = {}
        self.fields = {k: v for k, v in fields.items() if v is not None}

    # -- wiring ---------------------------------------------------------------------------
    @property
    def next_node(self) -> str | None:
        """The name of the step after this one (magnus 0.5's attribute)."""
        return _target_name(self.fields.get("next"))

    def _set_next(self, other: Step, where: Location) -> None:
        if not self.traversal:
            raise PipelineError(
                f"{self.node_type} step {self.name!r} is terminal: it has no next step",
                where.file,
                where.line,
            )
        current = self.fields.get("next")
        if (
            current is not None
            or self.fields.get("terminate_with_success")
            or self.fields.get("terminate_with_failure")
        ):
            raise PipelineError(
                f"step {self.name!r} already has a next step ({current or 'a terminal'}); "
                f"cannot chain it to {other.name!r}",
                where.file,
                where.line,
            )
        self.fields["next"] = other.name
        self.field_locations["next"] = where

    def __rshift__(self, other: Step) -> Step:
        """``a >> b``: b runs after a. Returns b so chains read left to right."""
        self._set_next(other, caller())
        return other

    def __lshift__(self, other: Step) -> Step:
        """``b << a``: b runs after a. Returns a."""
        other._set_next(self, caller())
        return other

    def depends_on(self, other: Step) -> Step:
        """This step runs after ``other`` (magnus 0.5's spelling of ``other >> self``)."""
        other._set_next(self, caller())
        return self

    # -- output ---------------------------------------------------------------------------
    def to_dict(self, success: str, fail: str) -> dict[str, Any]:
        """The mapping a YAML pipeline would hold for this step (``type`` first)."""
        out: dict[str, Any] = {"type": self.node_type}
        terminate = None
        for key, value in self.fields.items():
            if key == "terminate_with_success":
                terminate = success if value else terminate
            elif key == "terminate_with_failure":
                terminate = fail if value else terminate
            elif key in ("next", "on_failure"):
                out[key] = _target_name(value)
            elif isinstance(value, Catalog):
                out[key] = value.to_dict()
            else:
                out[key] = value
        if terminate is not None and "next" not in out:
            out["next"] = terminate
        if "next" in out:  # next reads best last, before on_failure
            out["next"] = out.pop("next")
        if "on_failure" in out:
            out["on_failure"] = out.pop("on_failure")
        return out

    def branches(self) -> dict[str, Graph]:
        """Sub-pipelines of a composite step, by branch key (none for other steps)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Task(Step):
    """Runs a python function (``module.function``), a shell command or a notebook."""

    node_type = "task"
    keyword_order = ("next", "on_failure", "catalog", "max_attempts", "overrides")

    def __init__(
        self,
        name: str,
        command: str,
        command_type: str | None = None,
        *,
        catalog: Catalog | Mapping[str, Any] | None = None,
        max_attempts: int | None = None,
        notebook_output_path: str | None = None,
        optional_ploomber_args: Mapping[str, Any] | None = None,
        **wiring: Unpack[Wiring],
    ) -> None:
        own = {
            "command_type": command_type,
            "command": command,
            "notebook_output_path": notebook_output_path,
            "optional_ploomber_args": _copy(optional_ploomber_args),
            "max_attempts": max_attempts,
            "catalog": _catalog(catalog),
        }
        super().__init__(name, _wired(wiring, own))


class Stub(Step):
    """Does nothing and succeeds; extra keyword arguments are kept, as magnus does."""

    node_type = "stub"
    keyword_order = ("next", "on_failure", "catalog")
    rest_name = "extras"

    def __init__(
        self, name: str, *, catalog: Catalog | Mapping[str, Any] | None = None, **wiring: Any
    ) -> None:
        super().__init__(name, _wired(wiring, {"catalog": _catalog(catalog)}, extras_first=True))


class AsIs(Step):
    """magnus's as-is step: rendered targets run ``render_string`` (one text, or target
    name -> text with an optional ``default``) in place of the step; ``magnus execute``
    records it as a stub. ``command`` is kept and never run."""

    node_type = "as-is"

    def __init__(
        self,
        name: str,
        *,
        render_string: str | Mapping[str, str] | None = None,
        command: str | None = None,
        command_config: Mapping[str, Any] | None = None,
        **wiring: Unpack[Wiring],
    ) -> None:
        text = dict(render_string) if isinstance(render_string, Mapping) else render_string
        own = {
            "command": command,
            "render_string": text,
            "command_config": _copy(command_config),
        }
        super().__init__(name, _wired(wiring, own))


class Success(Step):
    """The graph's success end. Usually added for you (``add_terminal_nodes``)."""

    node_type = "success"
    traversal = False

    def __init__(self, name: str = "success", **unknown: Any) -> None:
        super().__init__(name, unknown)


class Fail(Step):
    """The graph's failure end. Usually added for you (``add_terminal_nodes``)."""

    node_type = "fail"
    traversal = False

    def __init__(self, name: str = "fail", **unknown: Any) -> None:
        super().__init__(name, unknown)


class Parallel(Step):
    """Runs every branch (a Pipeline each); succeeds when all of them do."""

    node_type = "parallel"

    def __init__(
        self,
        name: str,
        branches: Mapping[str, Graph],
        **wiring: Unpack[Wiring],
    ) -> None:
        own = {
            "branches": dict(branches),
        }
        super().__init__(name, _wired(wiring, own))

    def branches(self) -> dict[str, Graph]:
        return dict(self.fields.get("branches") or {})


class Map(Step):
    """Runs its branch once per item of the list parameter ``iterate_on``."""

    node_type = "map"

    def __init__(
        self,
        name: str,
        branch: Graph,
        iterate_on: str,
        iterate_as: str,
        **wiring: Unpack[Wiring],
    ) -> None:
        own = {
            "iterate_on": iterate_on,
            "iterate_as": iterate_as,
            "branch": branch,
        }
        super().__init__(name, _wired(wiring, own))

    def branches(self) -> dict[str, Graph]:
        branch = self.fields.get("branch")
        return {"branch": branch} if branch is not None else {}


class Dag(Step):
    """Inlines another pipeline YAML file, resolved relative to the Python file."""

    node_type = "dag"

    def __init__(
        self,
        name: str,
        dag_definition: str,
        **wiring: Unpack[Wiring],
    ) -> None:
        own = {
            "dag_definition": dag_definition,
        }
        super().__init__(name, _wired(wiring, own))


def _copy(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(value) if value is not None else None


def _catalog(value: Catalog | Mapping[str, Any] | None) -> Catalog | dict[str, Any] | None:
    if value is None or isinstance(value, Catalog):
        return value
    return dict(value)  # checked by the front end like a YAML catalog


class Graph:
    """Steps plus where to start (a Pipeline is this plus building, rendering and running):
    steps and the assembler name this class, never the Pipeline module, which imports them."""

    def __init__(
        self,
        steps: Sequence[Step],
        start_at: Step | str | None = None,
        name: str = "",
        description: str = "",
        add_terminal_nodes: bool = True,
    ) -> None:
        self.location: Location = caller()
        self.steps, self.start_at, self.name = list(steps), start_at, name
        self.description, self.add_terminal_nodes = description, add_terminal_nodes
        self._complete()

    def _complete(self) -> None:
        """What a subclass does once the fields are set (a Pipeline builds itself)."""

    def terminal(self, kind: type[Step]) -> Step:
        """A terminal step added for ``add_terminal_nodes``, located at this pipeline."""
        step = kind()  # type: ignore[call-arg]
        step.location = self.location
        return step
