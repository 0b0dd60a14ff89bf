"""The distributions of synthetic regions, in one place (documented in docs/synthetic-data.md)."""

from __future__ import annotations

import numpy as np

#: Sectors of the domain brief (slugs as in the pilot data).
SECTORS = ("hospitality", "catering", "cleaning", "facility_services", "textile", "production",
           "it_testing", "bicycle_parking", "logistics", "care", "retail")
#: Share of options (seats offered) per sector: cleaning, hospitality, production and logistics
#: are the large employers of people with a distance to the labour market; IT testing is a niche.
OPTION_SECTOR_P = np.array([.14, .08, .14, .07, .05, .12, .03, .04, .12, .11, .10])
#: Popularity of each sector on candidates' wish lists (differs from the offer on purpose: care
#: and retail are wished more than offered, cleaning less).
WISH_SECTOR_P = np.array([.15, .08, .10, .05, .05, .10, .03, .05, .12, .14, .13])
#: How many sectors a candidate names (0 = no wishes).
N_WISHES_P = np.array([.08, .35, .37, .20])

SKILLS = ("bicycle_repair", "care", "cash_register", "cleaning", "communication", "computer",
          "cooking", "customer_service", "hygiene", "logistics", "order_picking", "precision",
          "production", "sewing", "stocking", "teamwork", "technical", "testing")
SECTOR_SKILLS: dict[str, tuple[str, ...]] = {
    "hospitality": ("cooking", "customer_service", "teamwork", "hygiene"),
    "catering": ("cooking", "hygiene", "teamwork"),
    "cleaning": ("cleaning", "teamwork"),
    "facility_services": ("cleaning", "technical", "customer_service"),
    "textile": ("sewing", "precision"),
    "production": ("production", "precision", "teamwork"),
    "it_testing": ("testing", "computer", "precision"),
    "bicycle_parking": ("customer_service", "logistics", "bicycle_repair"),
    "logistics": ("logistics", "order_picking", "teamwork"),
    "care": ("care", "communication", "hygiene"),
    "retail": ("customer_service", "cash_register", "stocking"),
}
#: General skills a candidate may have besides those of the sector they want most.
GENERAL_SKILLS = ("teamwork", "customer_service", "computer", "communication")

#: Dutch level of candidates, A0..C2: skewed low (many newcomers still learning Dutch, low
#: literacy); the median is A2.
LEVELS = ("A0", "A1", "A2", "B1", "B2", "C1", "C2")
CAND_LEVEL_P = np.array([.10, .18, .24, .22, .14, .08, .04])
#: Minimum level of programmes (language is taught on the job) and of places (direct jobs).
PROGRAMME_LEVEL_P = np.array([.35, .35, .25, .05, 0, 0, 0])
PLACE_LEVEL_P = np.array([.10, .25, .35, .25, .05, 0, 0])
#: Sectors that need more Dutch: at least this level.
SECTOR_MIN_LEVEL = {"it_testing": 3, "care": 2}

#: Hours a week a candidate can work now: mostly part-time (many start with a few half-days).
HOURS = np.array([8, 12, 16, 20, 24, 28, 32, 36, 40])
HOURS_P = np.array([.08, .12, .18, .18, .15, .10, .08, .05, .06])
OPTION_HOURS_MIN = np.array([8, 12, 16, 20, 24])
OPTION_HOURS_MIN_P = np.array([.20, .25, .25, .20, .10])
OPTION_HOURS_SPAN = np.array([8, 12, 16, 20])

#: Guidance need 0..3: most need a little (1) or regular (2) coaching.
NEED_P = np.array([.10, .45, .35, .10])
#: Maximum travel distance in km: by bike or public transport, mostly 5-15 km.
TRAVEL_KM = np.array([3, 5, 8, 10, 12, 15, 20, 25])
TRAVEL_P = np.array([.05, .15, .20, .20, .15, .12, .08, .05])

#: Seats per option 1..15, weight exp(-k/5): many small training places, a few large employers.
CAPACITY = np.arange(1, 16)
CAPACITY_P = np.exp(-CAPACITY / 5.0) / np.exp(-CAPACITY / 5.0).sum()
#: Seats offered per candidate in a region.
SEATS_PER_CANDIDATE = 0.7
#: Options per organisation on average.
OPTIONS_PER_ORGANISATION = 6
#: Organisation kinds and the option kind they offer.
ORG_KINDS = ("programme_provider", "employer", "intake")
ORG_KIND_P = np.array([.35, .60, .05])
#: Guidance capacity of an organisation as a share of the guidance its seats would need at the
#: mean need: uniform in this range, so the budgets bind for most organisations.
BUDGET_SHARE = (0.4, 0.9)
#: Share of an organisation's options in its own main sector.
MAIN_SECTOR_SHARE = 0.8
#: Locations: a postcode area's weight is its town's size (PC4 areas of the place) to this power;
#: people live spread out, organisations cluster in the larger towns.
CAND_TOWN_POWER = 0.5
ORG_TOWN_POWER = 1.0

#: Fictional protected attributes (audit only, never a score input): independent of everything.
GENDER = (("female", .48), ("male", .50), ("x", .02))
AGE_BAND = (("18-24", .18), ("25-44", .42), ("45-54", .20), ("55+", .20))
MIGRATION = (("yes", .45), ("no", .55))
DISABILITY = (("yes", .25), ("no", .75))
