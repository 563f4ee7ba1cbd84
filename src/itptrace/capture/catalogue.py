"""The error catalogue: every code a capture can refuse or flag an event with.

The API uses each code as the last part of its RFC 9457 problem ``type`` URI; docs/errors.md
lists the same codes (a test keeps the two equal).
"""

from __future__ import annotations

CATALOGUE: dict[str, str] = {
    # the report itself
    "malformed": "The message or EPCIS event does not have the required structure.",
    "missing_field": "A field the message type needs is absent.",
    "duplicate_event_id": "The message code is already used by a different message.",
    "duplicate_item": "The same UI is listed twice in one event.",
    "event_in_future": "The event time is later than now (dispatch and trans-loading: now + 24 h).",
    "unknown_originator": "The originator is not an active registered economic operator.",
    "unknown_facility": "The facility is not an active registered facility.",
    "facility_not_own": "An operator reports only for its own facilities.",
    "originator_not_actor": "A user reports only as the operator it is bound to.",
    "not_in_your_custody": (
        "The item is outside the reporter's custody: it neither holds it, nor held it, nor is "
        "it on its way to it (the full reason is kept for the authorities)."
    ),
    # application
    "ui_unknown": "The UI was never issued (as a unit-level UI, for application).",
    "ui_not_issued_to_operator": "The UI was issued to another operator.",
    "ui_facility_mismatch": "The UI was issued for another facility.",
    "ui_machine_mismatch": "The UI was issued for another machine.",
    "ui_expired": "The UI expired unused before the event.",
    "ui_cancelled": "The UI belongs to a cancelled request.",
    "ui_deactivated": "The UI is deactivated.",
    "ui_already_applied": "The UI was already applied.",
    "bad_timestamp": "The production time stamp is not a valid YYMMDDhh.",
    "timestamp_mismatch": "The production time stamp does not match the event time.",
    # aggregation
    "ui_not_applied": "The UI has not been applied (or aggregated) yet.",
    "parent_unknown": "The parent is neither an issued aggregated UI nor an SSCC.",
    "parent_invalid_sscc": "The parent looks like an SSCC but its check digit is wrong.",
    "parent_not_usable": "The aggregated UI belongs to another operator or is deactivated.",
    "child_already_aggregated": "The child is already inside another container.",
    "aggregation_cycle": "A container cannot contain itself.",
    "not_a_child": "The UI is not currently inside that container.",
    # movements
    "item_inside_container": "The item is inside a container: move the container.",
    "item_in_transit": "The item is in transit.",
    "item_not_at_facility": "The item is not at the reporting facility.",
    "item_not_in_transit": "Trans-loading concerns only dispatched items in transit.",
    "arrival_not_dispatched": (
        "An arrival of items neither in transit to the reporter nor held by it: refused (or, "
        "by the Party's setting, flagged without moving custody); the authorities are alerted."
    ),
    "unknown_destination": "The destination facility is not registered (or not a retail outlet).",
    "destination_incomplete": (
        "Export, duty-free, free-zone and transit dispatches need a country, consignee and route."
    ),
    "unknown_country": "The country is not an ISO 3166-1 alpha-2 code.",
    # transactions
    "unknown_currency": "The currency is not an ISO 4217 code.",
    "unknown_operator": "The seller or buyer is not a registered operator.",
    "originator_not_party": "The originator of a transaction must be its seller or buyer.",
    # deactivation and recall
    "bad_reason": "The deactivation reason is not destroyed, stolen, lost, recalled or expired.",
    "not_custodian": (
        "Only the operator holding an item (or, in transit, its consignee) acts on it."
    ),
    "unknown_event": "The recalled message is not stored.",
    "recall_not_own": "Only the sender of a message may recall it.",
    "already_recalled": "The message is already recalled.",
    "recall_superseded": "Later messages concern the same items: recall those first.",
    # flags: the event is accepted and the flag stored with it
    "late_report": "Flag: reported after the deadline (default 3 h after the event).",
    "unexpected_arrival": "Flag: an arrival with no dispatch to that facility.",
}
