"""The account page's action forms as the JSON API's own request models (issue 15): hardship,
dispute, complaint, bankruptcy, deceased, an attorney, a cease-communication request, contact
details, the answer to a restructure offer, the release of a hold, and notes. Each form's fields
are read into the model its JSON endpoint takes, so the desk and the API refuse the same input
with the same words (pydantic's ValidationError).

Field names are unique across the page's forms (each prefixed by its form), so one dict of what
was typed can refill whichever form a refusal came back to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from api.routes.branches import HardshipBody, RestructureDecision
from api.routes.holds import AttorneyBody, NotesBody, ReasonBody, ReportBody
from api.routes.notes import NoteIn
from domain.outcomes import ContactInfo


def _blank(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _checked(form: dict[str, str], name: str) -> bool:
    return form.get(name) == "yes"


def hardship(form: dict[str, str]) -> HardshipBody:
    return HardshipBody.model_validate(
        {
            "cause": _blank(form.get("hardship_cause")),
            "term": _blank(form.get("hardship_term")),
            "surmountable": _checked(form, "hardship_surmountable"),
            "notes": _blank(form.get("hardship_notes")),
            "conversation": _checked(form, "hardship_conversation"),
        }
    )


def _prefixed(model: type[BaseModel], prefix: str, *fields: str) -> Any:
    """The reader of a form whose fields are the model's own, each named `{prefix}_{field}`
    (a hold's report: dispute and complaint take `reason`, bankruptcy and deceased
    `reported_by`, all `notes`)."""

    def read(form: dict[str, str]) -> BaseModel:
        return model.model_validate({f: _blank(form.get(f"{prefix}_{f}")) for f in fields})

    return read


def contact_info(form: dict[str, str]) -> ContactInfo:
    """A new phone (with its kind), a number found dead, a new address, or the address found
    invalid: any of them in one post, as the JSON endpoint takes them."""
    body: dict[str, Any] = {}
    if number := _blank(form.get("contact_phone")):
        body["phones"] = [{"kind": form.get("contact_phone_kind") or "mobile", "number": number}]
    if dead := _blank(form.get("contact_dead_phone")):
        body["dead_phones"] = [dead]
    if address := _blank(form.get("contact_address")):
        body["address"] = address
    if _checked(form, "contact_address_invalid"):
        body["address_invalid"] = True
    if not body:
        raise ValueError("nothing to record: type a phone, a dead number or an address")
    return ContactInfo.model_validate(body)


def restructure(form: dict[str, str]) -> RestructureDecision:
    return RestructureDecision.model_validate(
        {
            "decision": form.get("restructure_decision", ""),
            "conversation": _checked(form, "restructure_conversation"),
        }
    )


def note(form: dict[str, str]) -> NoteIn:
    return NoteIn.model_validate({"text": form.get("note_text", "")})


@dataclass(frozen=True)
class Action:
    """One form beside the outcome: how its fields become the API's model, and which JSON
    endpoint (by its route name) takes that model."""

    read: Any
    route: str


ACTIONS: dict[str, Action] = {
    "hardship": Action(hardship, "post_hardship"),
    "dispute": Action(_prefixed(ReasonBody, "dispute", "reason", "notes"), "post_disputes"),
    "complaint": Action(_prefixed(ReasonBody, "complaint", "reason", "notes"), "post_complaints"),
    "bankruptcy": Action(
        _prefixed(ReportBody, "bankruptcy", "reported_by", "notes"), "post_bankruptcy"
    ),
    "deceased": Action(_prefixed(ReportBody, "deceased", "reported_by", "notes"), "post_deceased"),
    "attorney": Action(
        _prefixed(AttorneyBody, "attorney", "name", "phone", "notes"), "post_attorney"
    ),
    "cease-communication": Action(
        _prefixed(NotesBody, "cease", "notes"), "post_cease_communication"
    ),
    "contact-info": Action(contact_info, "post_contact_info"),
    "restructure": Action(restructure, "post_restructure"),
}
"""The account page's action forms by their path (`/desk/accounts/{loan_id}/actions/{name}`)."""


def release(kind: str) -> Any:
    """The reader of a hold's release form (its notes field `release_{kind}_notes`): one form
    per hold on the page, each posting to `/desk/accounts/{loan_id}/holds/{kind}/release`."""
    return _prefixed(NotesBody, f"release_{kind}", "notes")


RELEASE_ROUTE = "release_hold"
"""The JSON endpoint (`POST /v1/accounts/{loan_id}/holds/{kind}/release`) a release form calls."""


def body_of(name: str, form: dict[str, str]) -> BaseModel:
    built: BaseModel = ACTIONS[name].read(form)
    return built
