"""A vnpy CtaTemplate subclass as a listed strategy class: its rules and its parameter model.

vnpy describes a strategy's parameters by name only (`parameters`), their defaults and types
being the class attributes of those names. RedFire derives a pydantic model from them: int ->
integer, float -> number (integers accepted), bool -> boolean, str -> string; each field's
default is the class's. Other default types are refused (a client could not know what to send).
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    create_model,
)
from vnpy_ctastrategy.template import CtaTemplate, TargetPosTemplate

from backend.services.strategy.classes import (
    ClassRuleError,
    StrategyClassEntry,
    StrategyKind,
    doc_line,
)

# The templates themselves are bases to build on, not strategies.
TEMPLATES: tuple[type, ...] = (CtaTemplate, TargetPosTemplate)
MAX_TEXT_PARAMETER = 1000

_FIELD_TYPES: dict[type, Any] = {
    bool: StrictBool,
    int: StrictInt,
    float: Annotated[StrictFloat, Field(allow_inf_nan=False)],
    str: Annotated[StrictStr, Field(max_length=MAX_TEXT_PARAMETER)],
}


def is_cta_strategy(candidate: object) -> bool:
    """A CtaTemplate subclass other than vnpy's templates."""
    return (
        isinstance(candidate, type)
        and issubclass(candidate, CtaTemplate)
        and candidate not in TEMPLATES
    )


def _names(strategy_class: type, attribute: str) -> list[str]:
    names = getattr(strategy_class, attribute, [])
    if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
        raise ClassRuleError(f"`{attribute}` must be a list of attribute names")
    if len(set(names)) != len(names):
        raise ClassRuleError(f"`{attribute}` names an attribute twice")
    return list(names)


def cta_parameters_model(strategy_class: type) -> type[BaseModel]:
    """The pydantic model of the class's vnpy parameters; ClassRuleError when one has none."""
    fields: dict[str, Any] = {}
    for name in _names(strategy_class, "parameters"):
        if not name.isidentifier() or name.startswith("_"):
            raise ClassRuleError(f"parameter {name!r} is not a public attribute name")
        if not hasattr(strategy_class, name):
            raise ClassRuleError(f"parameter {name!r} has no default on the class")
        default = getattr(strategy_class, name)
        field_type = _FIELD_TYPES.get(type(default))
        if field_type is None:
            raise ClassRuleError(
                f"parameter {name!r} defaults to a {type(default).__name__}; "
                "RedFire supports int, float, bool and str"
            )
        fields[name] = (field_type, Field(default=default))
    model: type[BaseModel] = create_model(
        f"{strategy_class.__name__}Parameters",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return model


def cta_entry(strategy_class: type, source: str) -> StrategyClassEntry:
    """The entry of a CtaTemplate subclass; ClassRuleError when it breaks a rule."""
    if not is_cta_strategy(strategy_class):
        raise ClassRuleError("not a subclass of vnpy_ctastrategy's CtaTemplate")
    if inspect.isabstract(strategy_class):
        missing = ", ".join(sorted(getattr(strategy_class, "__abstractmethods__", ())))
        raise ClassRuleError(f"abstract: does not implement {missing}")
    model = cta_parameters_model(strategy_class)
    variables = _names(strategy_class, "variables")
    author = getattr(strategy_class, "author", "")
    description = doc_line(strategy_class) or (
        f"vnpy CTA strategy by {author}" if author else "vnpy CTA strategy"
    )
    return StrategyClassEntry(
        class_name=strategy_class.__name__,
        kind=StrategyKind.CTA,
        source=source,
        description=description,
        parameters=model.model_json_schema(),
        variables=variables,
        strategy_class=strategy_class,
        parameters_model=model,
    )
