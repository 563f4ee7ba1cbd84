"""``itptrace registry``: operators, facilities, machines and products."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from itptrace.cli.common import as_issuer, console, handles_errors, node, print_json
from itptrace.registry import service

app = typer.Typer(help="Register economic operators, facilities, machines and products.")

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _show(value: object, as_json: bool, label: str, ident: str) -> None:
    if as_json:
        print_json(value)
    else:
        console.print(f"{label} {ident}")


@app.command("add-operator")
@handles_errors
def add_operator(
    name: Annotated[str, typer.Option()],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2")],
    role: Annotated[list[str], typer.Option(help="manufacturer, importer, distributor, ...")],
    tobacco_industry: Annotated[
        bool, typer.Option("--tobacco-industry/--not-tobacco-industry")
    ] = False,
    as_json: Json = False,
) -> None:
    """Register an economic operator; prints its issued identifier."""
    operator = service.add_operator(
        node(),
        as_issuer(),
        name=name,
        country=country,
        roles=role,
        tobacco_industry=tobacco_industry,
    )
    _show(operator, as_json, "operator", operator.id)


@app.command("add-facility")
@handles_errors
def add_facility(
    operator: Annotated[str, typer.Option(help="operator id")],
    name: Annotated[str, typer.Option()],
    type: Annotated[str, typer.Option(help="manufacturing, warehouse, import_export, ...")],
    address: Annotated[str, typer.Option()],
    country: Annotated[str, typer.Option()],
    as_json: Json = False,
) -> None:
    """Register a facility of an operator; prints its issued identifier."""
    facility = service.add_facility(
        node(),
        as_issuer(),
        operator_id=operator,
        name=name,
        type=type,
        address=address,
        country=country,
    )
    _show(facility, as_json, "facility", facility.id)


@app.command("add-machine")
@handles_errors
def add_machine(
    facility: Annotated[str, typer.Option(help="facility id")],
    name: Annotated[str, typer.Option()],
    capacity: Annotated[int, typer.Option(help="packs per hour")],
    as_json: Json = False,
) -> None:
    """Register a production machine at a facility."""
    machine = service.add_machine(
        node(), as_issuer(), facility_id=facility, name=name, capacity_per_hour=capacity
    )
    _show(machine, as_json, "machine", machine.id)


@app.command("add-product")
@handles_errors
def add_product(
    gtin: Annotated[str, typer.Option()],
    operator: Annotated[str, typer.Option(help="brand owner / manufacturer id")],
    brand: Annotated[str, typer.Option()],
    description: Annotated[str, typer.Option()],
    category: Annotated[str, typer.Option(help="cigarettes, cigars, roll_your_own, ...")],
    pack_size: Annotated[int, typer.Option()],
    as_json: Json = False,
) -> None:
    """Register a tobacco product by its GTIN."""
    product = service.add_product(
        node(),
        as_issuer(),
        gtin=gtin,
        operator_id=operator,
        brand=brand,
        description=description,
        category=category,
        pack_size=pack_size,
    )
    _show(product, as_json, "product", product.gtin)


@app.command("deactivate-facility")
@handles_errors
def deactivate_facility(facility: str) -> None:
    """Deactivate a facility and all its machines."""
    count = service.deactivate_facility(node(), as_issuer(), facility)
    console.print(f"facility {facility} deactivated with {count} machine(s)")


@app.command("deactivate-operator")
@handles_errors
def deactivate_operator(operator: str) -> None:
    """Deactivate an economic operator, all its facilities and their machines."""
    facilities, machines = service.deactivate_operator(node(), as_issuer(), operator)
    console.print(
        f"operator {operator} deactivated with {facilities} facility(ies) and {machines} machine(s)"
    )


@app.command("deactivate-machine")
@handles_errors
def deactivate_machine(machine: str) -> None:
    """Deactivate a production machine."""
    service.deactivate_machine(node(), as_issuer(), machine)
    console.print(f"machine {machine} deactivated")


@app.command("deactivate-product")
@handles_errors
def deactivate_product(gtin: str) -> None:
    """Deactivate a tobacco product by its GTIN."""
    normalized = service.deactivate_product(node(), as_issuer(), gtin)
    console.print(f"product {normalized} deactivated")


@app.command("list")
@handles_errors
def list_registry(as_json: Json = False) -> None:
    """List everything registered."""
    ctx = node()
    data: dict[str, list[Any]] = {
        "operators": service.list_operators(ctx, as_issuer()),
        "facilities": service.list_facilities(ctx, as_issuer()),
        "machines": service.list_machines(ctx, as_issuer()),
        "products": service.list_products(ctx, as_issuer()),
    }
    if as_json:
        print_json(data)
        return
    for title, rows in data.items():
        table = Table(title=title)
        fields = list(rows[0].__dict__) if rows else ["(none)"]
        for name in fields:
            table.add_column(name)
        for row in rows:
            table.add_row(*(str(v) for v in row.__dict__.values()))
        console.print(table)
