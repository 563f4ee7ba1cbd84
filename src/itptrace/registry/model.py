"""Registry of the Party, economic operators, facilities, machines and products.

Pure model (EU 2018/574 Art. 14-19 as the reference): records and the rules that check
them. Identifiers of operators, facilities and machines are issued by the ID issuer and
start with the issuer code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from itptrace.errors import DomainError
from itptrace.gs1.checkdigit import normalize_gtin

E = TypeVar("E", bound=StrEnum)


class OperatorRole(StrEnum):
    MANUFACTURER = "manufacturer"
    IMPORTER = "importer"
    DISTRIBUTOR = "distributor"
    WHOLESALER = "wholesaler"
    RETAILER = "retailer"
    TRANSPORTER = "transporter"
    EXPORTER = "exporter"


class FacilityType(StrEnum):
    MANUFACTURING = "manufacturing"
    WAREHOUSE = "warehouse"
    IMPORT_EXPORT = "import_export"
    FREE_ZONE = "free_zone"
    DUTY_FREE = "duty_free"
    CUSTOMS = "customs"
    RETAIL_OUTLET = "retail_outlet"


class ProductCategory(StrEnum):
    CIGARETTES = "cigarettes"
    CIGARS = "cigars"
    CIGARILLOS = "cigarillos"
    ROLL_YOUR_OWN = "roll_your_own"
    PIPE = "pipe"
    WATERPIPE = "waterpipe"
    SMOKELESS = "smokeless"
    HEATED_TOBACCO = "heated_tobacco"
    OTHER = "other"


class RegistryError(DomainError):
    """Registry input that cannot be accepted."""

    code = "registry_invalid"


@dataclass(frozen=True)
class Party:
    country: str
    issuer_code: str


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    country: str
    roles: tuple[OperatorRole, ...]
    tobacco_industry: bool
    active: bool = True


@dataclass(frozen=True)
class Facility:
    id: str
    operator_id: str
    name: str
    type: FacilityType
    address: str
    country: str
    active: bool = True


@dataclass(frozen=True)
class Machine:
    id: str
    facility_id: str
    name: str
    capacity_per_hour: int
    active: bool = True


@dataclass(frozen=True)
class Product:
    gtin: str
    operator_id: str
    brand: str
    description: str
    category: ProductCategory
    pack_size: int
    active: bool = True


def parse_enum(kind: type[E], value: str, what: str) -> E:
    """Turn text into an enum member, or refuse it naming the allowed values."""
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise RegistryError(f"unknown {what} {value!r}; expected one of: {allowed}") from None


def checked_gtin(gtin: str) -> str:
    """The GTIN-14 form of a product code, or a RegistryError saying what is wrong."""
    try:
        return normalize_gtin(gtin.strip())
    except ValueError as exc:
        raise RegistryError(f"invalid GTIN {gtin!r}: {exc}", subject=gtin) from None


def require_text(value: str, what: str, *, max_length: int = 200) -> str:
    """A non-empty, bounded, single-line text field."""
    text = value.strip()
    if not text:
        raise RegistryError(f"{what} must not be empty")
    if len(text) > max_length or "\n" in text:
        raise RegistryError(f"{what} must be one line of at most {max_length} characters")
    return text


def require_positive(value: int, what: str) -> int:
    if value <= 0:
        raise RegistryError(f"{what} must be a positive number, got {value}")
    return value
