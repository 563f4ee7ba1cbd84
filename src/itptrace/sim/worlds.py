"""The worlds the tests and benches build (the demo's own is ``scenario.DEMO``)."""

from __future__ import annotations

from dataclasses import replace

from itptrace.sim.world import Description, OperatorSpec, ProductSpec, SiteSpec

SMALL = Description(
    maker=OperatorSpec("Nyota Tobacco", "KE", ("manufacturer", "exporter"), "maker", True),
    importer=OperatorSpec("Lake Imports", "UG", ("importer", "distributor"), "importer"),
    plant=SiteSpec("Plant", "manufacturing", "Nairobi", "KE"),
    depot=SiteSpec("Depot", "warehouse", "Kampala", "UG"),
    line="Line 1",
    capacity_per_hour=30_000,
    product=ProductSpec("06009876543219", "Savanna Gold", "King size 20"),
    market="UG",
    route="Malaba",
)
"""A manufacturer in Kenya and an importer in Uganda, one line, one product: cross-border."""

KENYA = replace(
    SMALL,
    importer=replace(SMALL.importer, country="KE"),
    depot=replace(SMALL.depot, address="Nairobi", country="KE"),
    market="KE",
    route="",
)
"""The same world with the importer in Kenya: a domestic chain."""
