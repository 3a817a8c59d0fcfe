"""The sample roster's vocabulary: roles (with their skills, certifications and pay), cities (with their
states and area codes), names and the words of resumes. Data only; core/sample/generate.py draws from it,
with the weights and phrasings below."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    name: str
    weight: int  # relative frequency
    base_cents: int  # hourly rate at zero years of experience
    cents_per_year: int  # raise per year of experience, for the first 25 years
    skills: tuple[str, ...]  # at least MAX_SKILLS entries
    certs: tuple[str, ...]  # what a worker in this role may hold
    licensed: bool = False  # every worker in the role holds certs[0] (a license the job requires)


# How workers are drawn: the values of the categorical columns, caps, and the weights of each choice.
AVAILABILITY: tuple[str, ...] = ("available", "on_assignment", "unavailable")
SHIFTS: tuple[str, ...] = ("day", "night", "swing", "weekend")
MAX_SKILLS = 5
MAX_CERTS = 3
MAX_YEARS = 40


# Second language of a worker who also speaks English (None: English only), weighted.
SECOND_LANGUAGE: tuple[tuple[str | None, int], ...] = (
    (None, 690),
    ("Spanish", 190),
    ("Polish", 18),
    ("Vietnamese", 16),
    ("Tagalog", 14),
    ("Mandarin", 12),
    ("Arabic", 12),
    ("Russian", 9),
    ("Hindi", 9),
    ("Haitian Creole", 7),
    ("French", 7),
    ("Somali", 5),
    ("Korean", 5),
    ("Portuguese", 6),
)
ENGLISH_PERCENT = 94  # the rest speak only non-English languages
THIRD_LANGUAGE_PERCENT = 3
AVAILABILITY_WEIGHTS = (45, 40, 15)
SHIFT_WEIGHTS = (50, 20, 20, 10)
NEWLINE_PER_MILLE = 100  # resumes with a line break
RATE_NOISE_CENTS = 150
RAISE_YEARS_CAP = 25

S1_VARIANTS = 3
SKILL_PREFIXES = ("Skilled in ", "Core skills include ", "Hands-on experience with ", "Strong background in ")
CERT_PREFIXES = (" Holds ", " Certifications include ", " Currently holds ")
# Closing sentence: 0 none, 1 shift + languages, 2 nickname (in double quotes), 3 temp-to-hire,
# 4 languages + references, 5 transportation.
CLOSING_WEIGHTS = (40, 20, 7, 12, 11, 10)


ROLES: tuple[Role, ...] = (
    Role(
        "forklift operator",
        90,
        1700,
        25,
        (
            "sit-down forklift",
            "reach truck",
            "order picker",
            "pallet jack",
            "cycle counting",
            "loading and unloading trailers",
            "RF scanner",
            "inventory control",
        ),
        ("forklift certification", "OSHA 10", "OSHA 30", "CPR/First Aid"),
        licensed=True,
    ),
    Role(
        "warehouse associate",
        120,
        1600,
        20,
        (
            "RF scanner",
            "pallet jack",
            "shipping and receiving",
            "cycle counting",
            "inventory control",
            "packing",
            "labeling",
            "loading and unloading trailers",
        ),
        ("OSHA 10", "forklift certification", "CPR/First Aid"),
    ),
    Role(
        "material handler",
        80,
        1650,
        20,
        (
            "pallet jack",
            "material staging",
            "kitting",
            "loading and unloading trailers",
            "RF scanner",
            "shrink wrapping",
            "inventory control",
        ),
        ("OSHA 10", "forklift certification", "OSHA 30"),
    ),
    Role(
        "picker packer",
        90,
        1550,
        15,
        (
            "order picking",
            "packing",
            "RF scanner",
            "labeling",
            "quality checks",
            "pick-to-light systems",
            "shipping and receiving",
        ),
        ("OSHA 10", "forklift certification"),
    ),
    Role(
        "welder",
        40,
        2100,
        45,
        (
            "MIG welding",
            "TIG welding",
            "stick welding",
            "flux-core welding",
            "blueprint reading",
            "metal fabrication",
            "plasma cutting",
            "grinding",
        ),
        ("AWS certified welder", "OSHA 10", "OSHA 30", "NCCER"),
    ),
    Role(
        "electrician",
        30,
        2500,
        60,
        (
            "conduit bending",
            "commercial wiring",
            "electrical troubleshooting",
            "blueprint reading",
            "NEC code",
            "motor controls",
            "PLC troubleshooting",
            "panel installation",
        ),
        ("journeyman electrician license", "OSHA 10", "OSHA 30", "NCCER"),
        licensed=True,
    ),
    Role(
        "machine operator",
        70,
        1750,
        25,
        (
            "machine setup",
            "press operation",
            "quality checks",
            "reading work orders",
            "calipers and micrometers",
            "lockout/tagout",
            "changeovers",
        ),
        ("OSHA 10", "forklift certification", "Six Sigma Yellow Belt"),
    ),
    Role(
        "CNC machinist",
        30,
        2300,
        50,
        (
            "CNC programming",
            "G-code",
            "Haas mills",
            "lathe operation",
            "blueprint reading",
            "GD&T",
            "calipers and micrometers",
            "Mastercam",
        ),
        ("NIMS machining certification", "OSHA 10", "Six Sigma Green Belt"),
    ),
    Role(
        "maintenance technician",
        40,
        2200,
        45,
        (
            "preventive maintenance",
            "hydraulics",
            "pneumatics",
            "electrical troubleshooting",
            "PLC troubleshooting",
            "welding repairs",
            "lockout/tagout",
            "conveyor systems",
        ),
        ("OSHA 30", "OSHA 10", "EPA 608", "NCCER"),
    ),
    Role(
        "HVAC technician",
        25,
        2400,
        50,
        (
            "refrigerant recovery",
            "HVAC diagnostics",
            "ductwork",
            "heat pumps",
            "commercial rooftop units",
            "thermostat wiring",
            "brazing",
        ),
        ("EPA 608", "OSHA 10", "NATE certification"),
        licensed=True,
    ),
    Role(
        "CDL truck driver",
        45,
        2500,
        40,
        (
            "route planning",
            "pre-trip inspections",
            "electronic logging devices",
            "load securement",
            "backing and docking",
            "hours-of-service compliance",
            "reefer operation",
        ),
        ("CDL Class A", "HAZMAT endorsement", "tanker endorsement", "TWIC card"),
        licensed=True,
    ),
    Role(
        "delivery driver",
        50,
        1800,
        20,
        (
            "route planning",
            "customer service",
            "handheld scanners",
            "box truck operation",
            "proof of delivery",
            "defensive driving",
            "lift gate operation",
        ),
        ("CDL Class B", "DOT medical card", "CPR/First Aid"),
    ),
    Role(
        "certified nursing assistant",
        60,
        1650,
        30,
        (
            "patient care",
            "vital signs",
            "ADL assistance",
            "patient transfers",
            "EMR charting",
            "infection control",
            "bathing and grooming",
        ),
        ("CNA certification", "BLS", "CPR/First Aid"),
        licensed=True,
    ),
    Role(
        "registered nurse",
        40,
        3800,
        80,
        (
            "medication administration",
            "patient assessment",
            "IV therapy",
            "EMR charting",
            "care planning",
            "wound care",
            "telemetry",
            "triage",
        ),
        ("RN license", "BLS", "ACLS", "PALS"),
        licensed=True,
    ),
    Role(
        "licensed practical nurse",
        30,
        2600,
        45,
        (
            "medication administration",
            "wound care",
            "vital signs",
            "EMR charting",
            "patient assessment",
            "injections",
            "long-term care",
        ),
        ("LPN license", "BLS", "IV certification"),
        licensed=True,
    ),
    Role(
        "medical assistant",
        35,
        1800,
        30,
        (
            "patient intake",
            "vital signs",
            "injections",
            "EMR charting",
            "appointment scheduling",
            "specimen collection",
            "insurance verification",
        ),
        ("CMA certification", "BLS", "phlebotomy certification (CPT)"),
    ),
    Role(
        "phlebotomist",
        20,
        1850,
        30,
        (
            "venipuncture",
            "capillary puncture",
            "specimen labeling",
            "specimen processing",
            "patient identification",
            "order of draw",
            "infection control",
        ),
        ("phlebotomy certification (CPT)", "BLS", "CPR/First Aid"),
        licensed=True,
    ),
    Role(
        "home health aide",
        40,
        1500,
        20,
        (
            "personal care",
            "meal preparation",
            "medication reminders",
            "companionship",
            "light housekeeping",
            "patient transfers",
            "vital signs",
        ),
        ("HHA certification", "CPR/First Aid", "BLS"),
    ),
    Role(
        "customer service representative",
        55,
        1650,
        25,
        (
            "inbound call handling",
            "CRM software",
            "order entry",
            "complaint resolution",
            "bilingual support",
            "typing 50 WPM",
            "Salesforce",
        ),
        ("Microsoft Office Specialist", "HDI customer service certification"),
    ),
    Role(
        "administrative assistant",
        35,
        1800,
        30,
        (
            "Microsoft Excel",
            "calendar management",
            "Microsoft Word",
            "data entry",
            "QuickBooks",
            "filing",
            "phone etiquette",
            "meeting scheduling",
        ),
        ("Microsoft Office Specialist", "QuickBooks Certified User"),
    ),
    Role(
        "data entry clerk",
        30,
        1550,
        15,
        (
            "10-key",
            "data entry",
            "typing 60 WPM",
            "Microsoft Excel",
            "records management",
            "data verification",
        ),
        ("Microsoft Office Specialist",),
    ),
    Role(
        "security officer",
        45,
        1650,
        25,
        (
            "access control",
            "patrol",
            "incident reports",
            "CCTV monitoring",
            "de-escalation",
            "emergency response",
            "visitor management",
        ),
        ("guard card", "CPR/First Aid", "OSHA 10"),
        licensed=True,
    ),
    Role(
        "janitor",
        45,
        1450,
        15,
        (
            "floor care",
            "floor buffing",
            "restroom sanitation",
            "trash removal",
            "chemical handling",
            "carpet extraction",
        ),
        ("OSHA 10", "bloodborne pathogens training", "CPR/First Aid"),
    ),
    Role(
        "line cook",
        40,
        1600,
        25,
        (
            "grill station",
            "saute station",
            "prep cooking",
            "knife skills",
            "food safety",
            "line organization",
            "high-volume service",
        ),
        ("ServSafe Food Handler", "ServSafe Manager"),
    ),
    Role(
        "assembler",
        70,
        1600,
        20,
        (
            "hand tools",
            "power tools",
            "blueprint reading",
            "soldering",
            "torque tools",
            "quality checks",
            "electronic assembly",
            "mechanical assembly",
        ),
        ("IPC-A-610", "OSHA 10", "IPC J-STD-001"),
    ),
    Role(
        "quality inspector",
        30,
        1900,
        35,
        (
            "calipers and micrometers",
            "GD&T",
            "CMM operation",
            "first article inspection",
            "SPC",
            "visual inspection",
            "blueprint reading",
            "root cause analysis",
        ),
        ("Six Sigma Green Belt", "ASQ Certified Quality Inspector", "OSHA 10", "Six Sigma Yellow Belt"),
    ),
)


@dataclass(frozen=True)
class City:
    name: str
    state: str
    weight: int  # relative frequency
    area_codes: tuple[str, ...]


CITIES: tuple[City, ...] = (
    City("Chicago", "IL", 90, ("312", "773", "872")),
    City("Joliet", "IL", 15, ("815", "779")),
    City("Aurora", "IL", 15, ("630", "331")),
    City("Rockford", "IL", 12, ("815",)),
    City("Columbus", "OH", 35, ("614", "380")),
    City("Cleveland", "OH", 30, ("216",)),
    City("Cincinnati", "OH", 28, ("513",)),
    City("Toledo", "OH", 14, ("419", "567")),
    City("Houston", "TX", 70, ("713", "281", "832")),
    City("Dallas", "TX", 55, ("214", "469", "972")),
    City("San Antonio", "TX", 40, ("210", "726")),
    City("Fort Worth", "TX", 30, ("817", "682")),
    City("El Paso", "TX", 18, ("915",)),
    City("Atlanta", "GA", 50, ("404", "470", "678")),
    City("Savannah", "GA", 10, ("912",)),
    City("Phoenix", "AZ", 50, ("602", "480", "623")),
    City("Tucson", "AZ", 18, ("520",)),
    City("Mesa", "AZ", 14, ("480",)),
    City("Indianapolis", "IN", 35, ("317", "463")),
    City("Fort Wayne", "IN", 12, ("260",)),
    City("Detroit", "MI", 40, ("313",)),
    City("Grand Rapids", "MI", 16, ("616",)),
    City("Louisville", "KY", 25, ("502",)),
    City("Lexington", "KY", 12, ("859",)),
    City("Memphis", "TN", 25, ("901",)),
    City("Nashville", "TN", 30, ("615", "629")),
    City("Charlotte", "NC", 35, ("704", "980")),
    City("Raleigh", "NC", 20, ("919", "984")),
    City("Greensboro", "NC", 12, ("336",)),
    City("Milwaukee", "WI", 25, ("414",)),
    City("St. Louis", "MO", 28, ("314",)),
    City("Kansas City", "MO", 24, ("816",)),
    City("Philadelphia", "PA", 45, ("215", "267")),
    City("Pittsburgh", "PA", 25, ("412",)),
    City("Allentown", "PA", 12, ("610", "484")),
    City("Riverside", "CA", 25, ("951",)),
    City("Ontario", "CA", 15, ("909",)),
    City("Stockton", "CA", 14, ("209",)),
    City("Las Vegas", "NV", 30, ("702", "725")),
    City("Reno", "NV", 12, ("775",)),
)

FIRST_NAMES: tuple[str, ...] = (
    "James", "Maria", "Robert", "Jennifer", "Michael", "Linda", "William", "Patricia", "David",
    "Elizabeth", "Richard", "Barbara", "Joseph", "Susan", "Thomas", "Jessica", "Charles", "Sarah",
    "Christopher", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Donald", "Sandra", "Steven", "Ashley", "Paul", "Kimberly", "Andrew", "Emily", "Joshua",
    "Donna", "Kenneth", "Michelle", "Kevin", "Dorothy", "Brian", "Carol", "George", "Amanda", "Edward",
    "Melissa", "Ronald", "Deborah", "Timothy", "Stephanie", "Jason", "Rebecca", "Jeffrey", "Sharon",
    "Ryan", "Laura", "Jacob", "Cynthia", "Gary", "Kathleen", "Nicholas", "Amy", "Eric", "Angela",
    "Jonathan", "Shirley", "Stephen", "Anna", "Larry", "Brenda", "Justin", "Pamela", "Scott", "Nicole",
    "Jose", "Guadalupe", "Luis", "Carmen", "Carlos", "Rosa", "Juan", "Ana", "Miguel", "Lucia", "Jorge",
    "Sofia", "Tomasz", "Katarzyna", "Piotr", "Agnieszka", "Minh", "Linh", "Huy", "Thanh", "DeShawn",
    "Keisha", "Malik", "Tanisha", "Andre", "Latoya", "Marcus", "Jasmine", "Terrell", "Aaliyah", "Ahmed",
    "Fatima", "Omar", "Amina", "Raj", "Priya", "Wei", "Mei", "Jean", "Marie", "Ivan", "Olga", "Kwame",
    "Abena", "Hector", "Yesenia",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards",
    "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez",
    "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox",
    "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza",
    "Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross",
    "Foster", "Jimenez", "Kowalski", "Nowak", "Wisniewski", "Tran", "Pham", "Le", "O'Brien",
    "O'Connor", "Washington", "Jefferson", "Okafor", "Mensah", "Haddad", "Khan", "Singh", "Chen",
    "Wang", "Pierre", "Volkov", "Santiago", "Delgado",
)  # fmt: skip

NICKNAMES: tuple[str, ...] = (
    "Doc", "Sparky", "Tex", "Red", "Ace", "Smitty", "Bear", "Chief", "Shorty", "Slim", "Boots",
    "Wheels", "Hammer", "Sunny", "Lefty", "Scooter", "Junior", "Turbo", "Coach", "Mac",
)  # fmt: skip

ADJECTIVES: tuple[str, ...] = (
    "Reliable", "Dependable", "Detail-oriented", "Safety-focused", "Hardworking", "Motivated",
    "Versatile", "Punctual",
)  # fmt: skip

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net")
