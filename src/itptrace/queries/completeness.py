"""Which operators leave Article 8.4.1 items unreported, measured on their own packs."""

from __future__ import annotations

from dataclasses import dataclass

from itptrace.access import Actor, Permission, authorize
from itptrace.context import Context
from itptrace.queries import store
from itptrace.queries.report import ITEMS, report


@dataclass(frozen=True)
class OperatorCompleteness:
    operator_id: str
    packs_checked: int
    completeness: float
    item_share: dict[str, float]  # per 8.4.1 item: share of checked packs where it is present

    @property
    def weakest(self) -> list[str]:
        return [k for k, share in sorted(self.item_share.items()) if share < 1.0]


def completeness_by_operator(
    ctx: Context, actor: Actor, sample: int = 50
) -> list[OperatorCompleteness]:
    """The 8.4.1 completeness of up to ``sample`` recent packs of every manufacturer."""
    authorize(actor, Permission.QUERY_COMPLETENESS)
    with ctx.db.transaction() as conn:
        packs = store.applied_packs_by_operator(conn, sample)
    summary = []
    for operator, uis in packs.items():
        reports = [report(ctx, actor, ui) for ui in uis]
        share = {
            key: sum(any(i.key == key and i.present for i in r.items) for r in reports)
            / len(reports)
            for key in ITEMS
        }
        overall = sum(r.completeness for r in reports) / len(reports)
        summary.append(OperatorCompleteness(operator, len(reports), overall, share))
    return summary
