"""domain/contact's public face: what the gate's callers import comes from the package (its
purity and exports are checked with the rest of domain/ in tests/unit/test_purity.py)."""


def test_the_brief_api_is_importable_from_the_package() -> None:
    from domain.contact import (  # noqa: F401
        BorrowerContext,
        ContactLedger,
        ContactProfile,
        ContactRecord,
        Decision,
        Hold,
        HoldKind,
        ProposedContact,
        Violation,
        active_holds,
        audit_ledger,
        decide,
        earliest_allowed,
        load_profile,
        profile_for,
        zones_for_contact,
    )
