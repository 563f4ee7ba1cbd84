"""docs/errors.md documents every error code the code can give, and names no other.

Three sources, three tables: the capture catalogue (``CATALOGUE``, a registry), the codes of
``DomainError`` (found by reading src: every subclass, its default ``code`` and every
``code="..."`` given where one is raised) and the problem types of the HTTP layer
(``api/problems.py``).
"""

from __future__ import annotations

import ast
import functools
import importlib
from dataclasses import dataclass
from pathlib import Path

from itptrace.api import problems
from itptrace.capture.catalogue import CATALOGUE
from itptrace.errors import DomainError
from tests.unit.markdown import DOCS, ROOT, only_code, section, table_with

SRC = ROOT / "src" / "itptrace"
ERRORS_DOC = DOCS / "errors.md"


def doc_table(heading: str, *header: str) -> list[dict[str, str]]:
    return table_with(section(ERRORS_DOC.read_text(), heading), *header)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def source_files() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(SRC.rglob("*.py"))
        if "migrations" not in path.parts
    )


@functools.cache
def domain_error_classes() -> dict[str, type[DomainError]]:
    """Every ``DomainError`` subclass defined in src, by class name."""
    defined: list[tuple[str, str, set[str]]] = []  # module, class, base class names
    for path, tree in source_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
                defined.append((module_name(path), node.name, bases))
    names = {"DomainError"}
    while grown := {name for _, name, bases in defined if bases & names} - names:
        names |= grown
    family = [(module, name) for module, name, _ in defined if name in names]
    assert len(family) == len(names), "two DomainError classes share a name"
    classes = {}
    for module, name in family:
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, DomainError), f"{module}.{name}"
        classes[name] = cls
    return classes


@dataclass(frozen=True)
class Raised:
    """One place that builds a DomainError, with the code it gets."""

    cls: type[DomainError]
    code: str | None  # None: the class's own code
    where: str

    @property
    def effective_code(self) -> str:
        return self.code or self.cls.code


def called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def literal_codes(value: ast.expr) -> list[str] | None:
    """The string(s) an expression can be: a literal, or a conditional between literals."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, ast.IfExp):
        body, orelse = literal_codes(value.body), literal_codes(value.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


@functools.cache
def raised_errors() -> tuple[Raised, ...]:
    classes = domain_error_classes()
    found = []
    for path, tree in source_files():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or called_name(node) not in classes:
                continue
            cls = classes[called_name(node)]  # type: ignore[index]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            given = [k.value for k in node.keywords if k.arg == "code"]
            if not given:
                found.append(Raised(cls, None, where))
                continue
            codes = literal_codes(given[0])
            assert codes is not None, f"{where}: the error code is not a string literal"
            found.extend(Raised(cls, code, where) for code in codes)
    return tuple(found)


def domain_error_codes() -> set[str]:
    defaults = {cls.code for cls in domain_error_classes().values()}
    return defaults | {r.effective_code for r in raised_errors()}


def test_every_domain_error_code_is_a_string_literal_where_the_error_is_raised() -> None:
    # raised_errors() asserts it: a code computed at run time could not be checked here.
    assert raised_errors()


def test_the_capture_catalogue_table_is_the_catalogue_in_order_and_word_for_word() -> None:
    table = doc_table("## Capture refusals and flags", "code", "meaning")
    assert [(only_code(r["code"]), r["meaning"]) for r in table] == list(CATALOGUE.items())


def test_the_service_refusals_table_lists_every_domain_error_code_and_no_other() -> None:
    table = doc_table("## Service refusals", "code", "status", "raised when")
    documented = [only_code(row["code"]) for row in table]
    assert len(documented) == len(set(documented)), "a code is listed twice"
    expected = domain_error_codes()
    assert not expected - set(documented), f"undocumented: {sorted(expected - set(documented))}"
    assert not set(documented) - expected, f"no longer raised: {set(documented) - expected}"


def test_each_service_refusal_is_documented_with_the_status_the_api_answers() -> None:
    table = doc_table("## Service refusals", "code", "status", "raised when")
    status = {only_code(row["code"]): int(row["status"]) for row in table}
    for raised in raised_errors():
        error = raised.cls("a refusal", code=raised.code)
        answered = problems.status_of(error)
        code = raised.effective_code
        assert answered == status[code], f"{raised.where}: {code} is answered {answered}"


def capture_problem_codes() -> dict[str, str]:
    """Codes written as literals where capture builds a Problem, with where they are."""
    # The helpers that build one take the code first (Problem, recall's problem) or after
    # the event (rules' _p, rules_items' make_problem).
    position = {"Problem": 0, "problem": 0, "_p": 1, "make_problem": 1}
    found = {}
    for path, tree in source_files():
        if "capture" not in path.parts:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and called_name(node) in position:
                index = position[called_name(node)]  # type: ignore[index]
                if len(node.args) > index:
                    for code in literal_codes(node.args[index]) or []:
                        found[code] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_problem_code_capture_writes_is_documented() -> None:
    documented = {
        only_code(row["code"])
        for heading, header in (
            ("## Capture refusals and flags", ("code", "meaning")),
            ("## HTTP problems", ("code", "status", "meaning")),
        )
        for row in doc_table(heading, *header)
    }
    written = capture_problem_codes()
    assert len(written) > 20, "the capture rules are no longer found"
    for code, where in written.items():
        assert code in documented, f"{where}: {code} is not in docs/errors.md"


def api_problem_codes() -> set[str]:
    """Every problem type api/problems.py can answer with."""
    codes = set(problems.HTTP_CODES.values()) | set(problems.TITLES) | set(problems.STATUS_OF_CODE)
    tree = ast.parse((SRC / "api" / "problems.py").read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if called_name(node) == "problem_response" and len(node.args) > 1:
            codes.update(literal_codes(node.args[1]) or [])
        for keyword in node.keywords:
            if keyword.arg == "code":
                codes.update(literal_codes(keyword.value) or [])
    return codes


def test_the_http_problems_table_lists_every_other_problem_type_of_the_api() -> None:
    table = doc_table("## HTTP problems", "code", "status", "meaning")
    documented = {only_code(row["code"]) for row in table}
    expected = api_problem_codes() - domain_error_codes() - set(CATALOGUE)
    assert documented == expected


def test_each_http_problem_is_documented_with_its_status() -> None:
    table = doc_table("## HTTP problems", "code", "status", "meaning")
    status_of_code = {code: status for status, code in problems.HTTP_CODES.items()}
    for row in table:
        code = only_code(row["code"])
        if code in status_of_code:
            assert int(row["status"]) == status_of_code[code], code
