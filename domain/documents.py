"""Reading a policy document (a strategy, a contact profile) into its model, with every problem
explained: an operator who edits a YAML file gets one line per mistake, with where it is."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Document = TypeVar("Document", bound=BaseModel)


def explain(error: ValidationError) -> list[str]:
    """One `where: what` line per problem pydantic found."""
    lines = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "(file)"
        msg = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}")
    return lines


def parse_document(model: type[Document], data: Any, what: str, error: type[Exception]) -> Document:
    """Validate a mapping already read from YAML; `what` names it in the message (e.g.
    "strategy default.yaml"), `error` is the exception its loader documents."""
    if not isinstance(data, dict):
        raise error(f"{what} is invalid: the file must contain a mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = "\n".join(f"- {line}" for line in explain(exc))
        raise error(f"{what} is invalid:\n{details}") from None
