# ruff: noqa: E501  (a table of labeled queries reads best one per line)
"""Labeled plain-words staffing queries over the sample roster and a second one, with ground truth by SQL.

Each query names its family and the SQL predicate (over the `workers` dataset's structured columns)
that says which workers truly answer it. precision@10 counts the returned workers that satisfy the
predicate, out of min(10, how many exist), so a query with 4 true answers that returns exactly those 4
scores 1.0 and one padded with violators scores less. Queries for a role nobody in the roster has
must come back empty (precision 1.0 when they do, 0.0 when anything is returned).

Used by the test suite (10,000 workers, floors asserted) and by bench/nlq.py (10,000 and 100,000,
dense-only vs keyword-only vs hybrid with constraints).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

K = 10


@dataclass(frozen=True)
class LabeledQuery:
    family: str
    query: str
    truth: str  # SQL predicate over workers; "" = nobody (an absent role)


def _cert(value: str) -> str:
    return f"list_contains(string_split(certifications, ';'), '{value}')"


def _lang(value: str) -> str:
    return f"list_contains(string_split(languages, ';'), '{value}')"


QUERIES: tuple[LabeledQuery, ...] = (
    # role + certification
    LabeledQuery("role+certification", "forklift operator with OSHA 30", f"role = 'forklift operator' AND {_cert('OSHA 30')}"),
    LabeledQuery("role+certification", "welder with AWS certification", f"role = 'welder' AND {_cert('AWS certified welder')}"),
    LabeledQuery("role+certification", "electrician with NCCER", f"role = 'electrician' AND {_cert('NCCER')}"),
    LabeledQuery("role+certification", "registered nurse with ACLS", f"role = 'registered nurse' AND {_cert('ACLS')}"),
    LabeledQuery("role+certification", "CDL truck driver with HAZMAT endorsement", f"role = 'CDL truck driver' AND {_cert('HAZMAT endorsement')}"),
    LabeledQuery("role+certification", "HVAC technician EPA 608", f"role = 'HVAC technician' AND {_cert('EPA 608')}"),
    LabeledQuery("role+certification", "quality inspector, Six Sigma Green Belt", f"role = 'quality inspector' AND {_cert('Six Sigma Green Belt')}"),
    LabeledQuery("role+certification", "machine operator with forklift certification", f"role = 'machine operator' AND {_cert('forklift certification')}"),
    LabeledQuery("role+certification", "CNA with BLS", f"role = 'certified nursing assistant' AND {_cert('BLS')}"),
    LabeledQuery("role+certification", "line cook ServSafe Manager", f"role = 'line cook' AND {_cert('ServSafe Manager')}"),
    # location
    LabeledQuery("location", "forklift operator in Illinois", "role = 'forklift operator' AND state = 'IL'"),
    LabeledQuery("location", "warehouse associate in Houston", "role = 'warehouse associate' AND city = 'Houston'"),
    LabeledQuery("location", "welder in Ohio", "role = 'welder' AND state = 'OH'"),
    LabeledQuery("location", "registered nurse in Texas", "role = 'registered nurse' AND state = 'TX'"),
    LabeledQuery("location", "material handler in Chicago, IL", "role = 'material handler' AND city = 'Chicago' AND state = 'IL'"),
    LabeledQuery("location", "picker packer in Georgia", "role = 'picker packer' AND state = 'GA'"),
    # shift
    LabeledQuery("shift", "night shift forklift operator in Illinois", "role = 'forklift operator' AND state = 'IL' AND shift = 'night'"),
    LabeledQuery("shift", "weekend warehouse associate", "role = 'warehouse associate' AND shift = 'weekend'"),
    LabeledQuery("shift", "CNA on the night shift", "role = 'certified nursing assistant' AND shift = 'night'"),
    LabeledQuery("shift", "swing shift machine operator", "role = 'machine operator' AND shift = 'swing'"),
    LabeledQuery("shift", "day shift security officer", "role = 'security officer' AND shift = 'day'"),
    # language
    LabeledQuery("language", "Spanish-speaking material handler, day shift", f"role = 'material handler' AND {_lang('Spanish')} AND shift = 'day'"),
    LabeledQuery("language", "Spanish speaking warehouse associate", f"role = 'warehouse associate' AND {_lang('Spanish')}"),
    LabeledQuery("language", "home health aide who speaks Spanish", f"role = 'home health aide' AND {_lang('Spanish')}"),
    LabeledQuery("language", "Polish speaking warehouse associate", f"role = 'warehouse associate' AND {_lang('Polish')}"),
    LabeledQuery("language", "customer service representative fluent in Spanish", f"role = 'customer service representative' AND {_lang('Spanish')}"),
    # experience
    LabeledQuery("experience", "welder in Ohio with at least 10 years", "role = 'welder' AND state = 'OH' AND years_experience >= 10"),
    LabeledQuery("experience", "electrician with 15+ years", "role = 'electrician' AND years_experience >= 15"),
    LabeledQuery("experience", "CDL truck driver, 20 or more years of experience", "role = 'CDL truck driver' AND years_experience >= 20"),
    LabeledQuery("experience", "registered nurse with less than 3 years", "role = 'registered nurse' AND years_experience < 3"),
    LabeledQuery("experience", "forklift operator between 5 and 10 years", "role = 'forklift operator' AND years_experience BETWEEN 5 AND 10"),
    # rate
    LabeledQuery("rate", "electrician under $30 an hour", "role = 'electrician' AND hourly_rate < 30"),
    LabeledQuery("rate", "warehouse associate at most $18 per hour", "role = 'warehouse associate' AND hourly_rate <= 18"),
    LabeledQuery("rate", "CNA between 18 and 22 dollars an hour", "role = 'certified nursing assistant' AND hourly_rate BETWEEN 18 AND 22"),
    LabeledQuery("rate", "welder over $30 an hour", "role = 'welder' AND hourly_rate > 30"),
    LabeledQuery("rate", "janitor under 17 dollars", "role = 'janitor' AND hourly_rate < 17"),
    # availability
    LabeledQuery("availability", "available forklift operator in Texas", "role = 'forklift operator' AND state = 'TX' AND availability = 'available'"),
    LabeledQuery("availability", "material handler on assignment", "role = 'material handler' AND availability = 'on_assignment'"),
    LabeledQuery("availability", "available registered nurse", "role = 'registered nurse' AND availability = 'available'"),
    LabeledQuery("availability", "available picker packer, night shift", "role = 'picker packer' AND availability = 'available' AND shift = 'night'"),
    # negation
    LabeledQuery("negation", "RN in Ohio, not on nights", "role = 'registered nurse' AND state = 'OH' AND shift <> 'night'"),
    LabeledQuery("negation", "warehouse associate, no weekends", "role = 'warehouse associate' AND shift <> 'weekend'"),
    LabeledQuery("negation", "forklift operator not in Illinois", "role = 'forklift operator' AND state <> 'IL'"),
    LabeledQuery("negation", "machine operator without forklift certification", f"role = 'machine operator' AND NOT coalesce({_cert('forklift certification')}, false)"),
    LabeledQuery("negation", "welder, not on the night shift", "role = 'welder' AND shift <> 'night'"),
    # the work described without the role's or a certification's words: ranked by meaning (and skills' words)
    LabeledQuery("paraphrase", "drives big rigs cross country", "role = 'CDL truck driver'"),
    LabeledQuery("paraphrase", "stacks pallets on high racks with a sit-down lift truck", "role = 'forklift operator'"),
    LabeledQuery("paraphrase", "performs venipuncture to draw blood from patients", "role = 'phlebotomist'"),
    LabeledQuery("paraphrase", "repairs furnaces, heat pumps and air conditioners", "role = 'HVAC technician'"),
    LabeledQuery("paraphrase", "installs wiring and breaker panels in commercial buildings", "role = 'electrician'"),
    LabeledQuery("paraphrase", "fuses metal parts together with MIG and TIG", "role = 'welder'"),
    LabeledQuery("paraphrase", "mops floors and cleans restrooms", "role = 'janitor'"),
    LabeledQuery("paraphrase", "answers incoming phone calls and resolves complaints", "role = 'customer service representative'"),
    LabeledQuery("paraphrase", "watches CCTV cameras and patrols the grounds", "role = 'security officer'"),
    LabeledQuery("paraphrase", "works the grill and saute stations in a busy restaurant kitchen", "role = 'line cook'"),
    LabeledQuery("paraphrase", "programs G-code for Haas mills and lathes", "role = 'CNC machinist'"),
    # a role nobody in the roster has
    LabeledQuery("absent role", "dental hygienist", ""),
    LabeledQuery("absent role", "dental hygienist in Ohio", ""),
    LabeledQuery("absent role", "software engineer fluent in kubernetes", ""),
    LabeledQuery("absent role", "airline pilot with 10 years", ""),
)  # fmt: skip

# The second roster (core/sample/other_roster.py: other role names, hyphenated certifications, its own skills), the
# same families asked in its words.
OTHER_QUERIES: tuple[LabeledQuery, ...] = (
    LabeledQuery("role+certification", "lift truck driver with OSHA 30", f"role = 'Lift Truck Driver' AND {_cert('OSHA-30')}"),
    LabeledQuery("role+certification", "long-haul driver with a tanker N endorsement", f"role = 'Long-Haul Driver' AND {_cert('Tanker-N')}"),
    LabeledQuery("role+certification", "climate control tech, NATE core", f"role = 'Climate Control Tech' AND {_cert('NATE-Core')}"),
    LabeledQuery("role+certification", "charge nurse with ACLS-AHA", f"role = 'Charge Nurse' AND {_cert('ACLS-AHA')}"),
    LabeledQuery("role+certification", "metal fabricator AWS-D1.1", f"role = 'Metal Fabricator' AND {_cert('AWS-D1.1')}"),
    LabeledQuery("role+certification", "production assembler with IPC 610", f"role = 'Production Assembler' AND {_cert('IPC-610')}"),
    LabeledQuery("location", "lift truck driver in Illinois", "role = 'Lift Truck Driver' AND state = 'IL'"),
    LabeledQuery("location", "patient care tech in Houston", "role = 'Patient Care Tech' AND city = 'Houston'"),
    LabeledQuery("shift", "night shift fulfillment associate", "role = 'Fulfillment Associate' AND shift = 'night'"),
    LabeledQuery("shift", "site guard on weekends", "role = 'Site Guard' AND shift = 'weekend'"),
    LabeledQuery("language", "Spanish speaking in-home caregiver", f"role = 'In-Home Caregiver' AND {_lang('Spanish')}"),
    LabeledQuery("experience", "industrial mechanic with at least 10 years", "role = 'Industrial Mechanic' AND years_experience >= 10"),
    LabeledQuery("rate", "contact center agent under $20 an hour", "role = 'Contact Center Agent' AND hourly_rate < 20"),
    LabeledQuery("availability", "available courier driver in Ohio", "role = 'Courier Driver' AND availability = 'available' AND state = 'OH'"),
    LabeledQuery("negation", "charge nurse in Texas, not on nights", "role = 'Charge Nurse' AND state = 'TX' AND shift <> 'night'"),
    LabeledQuery("negation", "lift truck driver without OSHA-10", f"role = 'Lift Truck Driver' AND NOT coalesce({_cert('OSHA-10')}, false)"),
    LabeledQuery("paraphrase", "drives big rigs cross country", "role = 'Long-Haul Driver'"),
    LabeledQuery("paraphrase", "moves pallets around a warehouse on a forklift", "role = 'Lift Truck Driver'"),
    LabeledQuery("paraphrase", "takes blood samples from patients with a needle", "role = 'Lab Draw Specialist'"),
    LabeledQuery("paraphrase", "repairs furnaces and air conditioners", "role = 'Climate Control Tech'"),
    LabeledQuery("paraphrase", "wires buildings and hooks up breaker panels", "role = 'Electrical Installer'"),
    LabeledQuery("paraphrase", "joins steel parts with a welding torch", "role = 'Metal Fabricator'"),
    LabeledQuery("paraphrase", "scrubs floors and cleans restrooms in office buildings", "role = 'Custodial Tech'"),
    LabeledQuery("paraphrase", "answers customer phone calls and fixes account problems", "role = 'Contact Center Agent'"),
    LabeledQuery("paraphrase", "helps elderly clients with bathing and meals where they live", "role = 'In-Home Caregiver'"),
    LabeledQuery("paraphrase", "patrols a property and checks visitor badges", "role = 'Site Guard'"),
    LabeledQuery("paraphrase", "prepares food on a griddle in a restaurant", "role = 'Kitchen Prep Worker'"),
    LabeledQuery("absent role", "dental hygienist", ""),
    LabeledQuery("absent role", "software engineer fluent in kubernetes", ""),
    LabeledQuery("absent role", "airline pilot with 10 years", ""),
)  # fmt: skip

CONSTRAINED = frozenset({"location", "shift", "language", "experience", "rate", "availability", "negation"})


def ground_truth(conn: Any, queries: Sequence[LabeledQuery] = QUERIES, table: str = "workers") -> dict[str, set[str]]:
    """query -> worker ids (as text) satisfying its predicate, by SQL over `table`."""
    out: dict[str, set[str]] = {}
    for q in queries:
        if not q.truth:
            out[q.query] = set()
            continue
        rows = conn.sql(f"SELECT CAST(worker_id AS VARCHAR) FROM {table} WHERE {q.truth}").fetchall()
        out[q.query] = {r[0] for r in rows}
    return out


def precision_at_k(returned: Sequence[str], truth: set[str], k: int = K) -> float:
    """Share of the first k returned ids that are true, out of min(k, |truth|); absent: 1.0 only if empty."""
    if not truth:
        return 1.0 if not returned else 0.0
    top = list(returned)[:k]
    return sum(1 for r in top if r in truth) / min(k, len(truth))


@dataclass(frozen=True)
class EvalRow:
    family: str
    query: str
    truth: int
    returned: int
    precision: float


def evaluate(
    search: Callable[[str], Sequence[str]], truth: dict[str, set[str]], queries: Sequence[LabeledQuery] = QUERIES
) -> list[EvalRow]:
    """Run `search(query) -> entity ids, best first` over the set."""
    rows = []
    for q in queries:
        got = list(search(q.query))
        rows.append(EvalRow(q.family, q.query, len(truth[q.query]), len(got), precision_at_k(got, truth[q.query])))
    return rows


def by_family(rows: Sequence[EvalRow]) -> dict[str, float]:
    """Mean precision@10 per family, plus "constrained" over every constrained family."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(r.family, []).append(r.precision)
        if r.family in CONSTRAINED:
            groups.setdefault("constrained", []).append(r.precision)
    return {f: sum(v) / len(v) for f, v in groups.items()}
