"""A simulated organisation for the demo, ``python -m bot.devkit`` and the tests.

It owns a deterministic workforce (Slack user objects, formal teams and managers) and a
hidden informal structure that the bot is supposed to discover: communities of practice
that cut across teams, a few brokers bridging them, a few hyper-connected people and some
isolated ones. Simulated employees answer polls and give kudos along that structure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics.report.io import csv_writer
from bot.devkit.workspace import SLACKBOT, TEAM_ID, base36

__all__ = ["Organisation", "Person", "simulate_organisation"]

EMAIL_DOMAIN = "peerpulse-sim.example"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Aisha Alejandro Amara Anders Ana Arjun Astrid Ben Bianca Camille Carlos Chen Chloe "
    "Dario Daniel Deepa Diego Elena Emeka Emma Erik Fatima Felix Freya Gabriel Grace Hana "
    "Hugo Ibrahim Ines Isaac Ivy Jakub Jamal Jin Joao Julia Kai Kamala Karin Kenji Leila "
    "Leo Lina Lucas Maya Mateo Mei Mia Mohammed Nadia Naomi Nikhil Nina Noah Olga Omar "
    "Oscar Priya Rafael Rosa Ruth Sakura Samir Sara Sebastian Sofia Tariq Thea Tomas "
    "Uma Valentina Victor Wei Yara Yusuf Zainab Zoe"
)

LAST_NAMES = _words(
    "Abbott Adeyemi Ahmed Alvarez Andersen Bauer Bianchi Brennan Castro Chandra Chen "
    "Costa Dubois Eriksson Evans Fernandes Fischer Garcia Gupta Haddad Hansen Hoffmann "
    "Ibrahim Ito Jansen Johnson Kaur Khan Kim Kowalski Larsen Lee Lopez Martin Meyer "
    "Mueller Murphy Nakamura Nguyen Novak Okafor Olsen Osei Park Patel Perez Petrov "
    "Quinn Rahman Reyes Rossi Santos Schmidt Silva Singh Sato Tanaka Taylor Thomas "
    "Torres Varga Wagner Walsh Wang Weber Williams Wong Yilmaz Young Zhang Zimmermann"
)

# name, (individual contributor, senior, manager) titles
TEAMS: tuple[tuple[str, tuple[str, str, str]], ...] = (
    ("Platform", ("Software Engineer", "Senior Software Engineer", "Engineering Manager")),
    ("Payments", ("Software Engineer", "Staff Engineer", "Engineering Manager")),
    ("Mobile", ("Mobile Developer", "Senior Mobile Developer", "Mobile Lead")),
    ("Data", ("Data Analyst", "Senior Data Scientist", "Head of Data")),
    ("Sales", ("Account Executive", "Senior Account Executive", "Sales Director")),
    ("Customer Success", ("Customer Success Manager", "Senior CSM", "Head of Customer Success")),
    ("Marketing", ("Marketing Specialist", "Senior Product Marketer", "Marketing Director")),
    ("Finance", ("Financial Analyst", "Senior Accountant", "Finance Director")),
    ("People", ("People Partner", "Senior People Partner", "Head of People")),
    ("Security", ("Security Engineer", "Senior Security Engineer", "Security Lead")),
    ("Design", ("Product Designer", "Senior Product Designer", "Design Lead")),
    ("Operations", ("Operations Analyst", "Senior Operations Manager", "COO Office Lead")),
)

COMMUNITIES = (
    "Python guild",
    "Customer voice",
    "Data practice",
    "Running club",
    "Architecture forum",
    "Newcomers circle",
    "Sustainability group",
    "Women in tech",
    "Accessibility champions",
    "Board games",
    "Agile coaches",
    "Writing club",
)

# tz, label, offset in seconds (standard time), city
LOCATIONS = (
    ("Europe/London", "Greenwich Mean Time", 0, "London"),
    ("Europe/Berlin", "Central European Time", 3600, "Berlin"),
    ("America/New_York", "Eastern Standard Time", -18000, "New York"),
    ("America/Los_Angeles", "Pacific Standard Time", -28800, "San Francisco"),
    ("Asia/Singapore", "Singapore Standard Time", 28800, "Singapore"),
    ("Europe/Lisbon", "Western European Time", 0, "Lisbon"),
)

BOTS = (("jira", "Jira Cloud"), ("github", "GitHub"), ("google_calendar", "Google Calendar"))

# Where a named person comes from: own community, own team, a broker, anyone.
CHANNEL_WEIGHTS = (0.70, 0.18, 0.07, 0.05)
K_WEIGHTS = (0.35, 0.30, 0.20, 0.10, 0.05)


@dataclass(frozen=True)
class Person:
    """A human member of the organisation, with what a roster would say about them."""

    id: str
    name: str
    real_name: str
    email: str
    team: str
    manager: str | None
    title: str
    tz: str
    location: str


@dataclass
class Organisation:
    """A simulated organisation; see :func:`simulate_organisation`.

    ``hidden_communities`` is the ground truth partition (each person in their primary
    community); brokers also belong to the communities in ``secondary_communities``.
    """

    seed: int
    people: list[Person]
    users: list[dict[str, Any]]
    teams: dict[str, list[str]]
    managers: dict[str, str]
    community_names: list[str]
    community_of: dict[str, int]
    secondary_communities: dict[str, list[int]]
    brokers: list[str]
    hyper_connected: list[str]
    isolated: list[str]
    bots: list[str]
    deleted: list[str]
    usergroups: dict[str, list[str]]
    popularity: dict[str, float]
    _respond: dict[str, float] = field(repr=False, default_factory=dict)
    _by_id: dict[str, Person] = field(repr=False, default_factory=dict)
    _pools: list[list[str]] = field(repr=False, default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {p.id: p for p in self.people}
        pools: list[list[str]] = [[] for _ in self.community_names]
        for p in self.people:
            pools[self.community_of[p.id]].append(p.id)
            for extra in self.secondary_communities.get(p.id, []):
                pools[extra].append(p.id)
        self._pools = pools

    @property
    def hidden_communities(self) -> list[set[str]]:
        """The hidden partition of people into communities (primary membership)."""
        groups: list[set[str]] = [set() for _ in self.community_names]
        for person_id, community in self.community_of.items():
            groups[community].add(person_id)
        return [g for g in groups if g]

    def person(self, person_id: str) -> Person:
        return self._by_id[person_id]

    def team_of(self, person_id: str) -> str:
        return self._by_id[person_id].team

    def respond_probability(self, person_id: str) -> float:
        """How likely this person is to answer a poll they are sent."""
        return self._respond[person_id]

    def sample_named(self, person_id: str, rng: random.Random, k_max: int = 5) -> list[str]:
        """Whom ``person_id`` would name in answer to "who helped you?" (may be empty).

        Mostly people of their own community, sometimes their own team, now and then a
        broker or anyone; popular people are named more often, isolated people rarely.
        """
        me = self._by_id[person_id]
        k_max = max(0, k_max)
        if k_max == 0:
            return []
        k = rng.choices(range(1, k_max + 1), weights=_k_weights(k_max))[0]
        if person_id in self.isolated:
            k = 1
        own = [self.community_of[person_id], *self.secondary_communities.get(person_id, [])]
        everyone = [p.id for p in self.people]
        named: list[str] = []
        for _ in range(k * 10):
            if len(named) >= k:
                break
            channel = rng.choices(range(4), weights=CHANNEL_WEIGHTS)[0]
            if channel == 0:
                pool = self._pools[rng.choice(own)]
            elif channel == 1:
                pool = self.teams[me.team]
            elif channel == 2:
                pool = self.brokers
            else:
                pool = everyone
            candidates = [c for c in pool if c != person_id and c not in named]
            if not candidates:
                continue
            weights = [self.popularity[c] for c in candidates]
            named.append(rng.choices(candidates, weights=weights)[0])
        return named

    def simulate_ties(
        self, rounds: int = 4, seed: int = 0, k_max: int = 5
    ) -> list[tuple[str, str]]:
        """``(source, target)`` pairs from ``rounds`` polls of everyone, with non-response."""
        rng = random.Random(seed)
        ties: list[tuple[str, str]] = []
        for _ in range(rounds):
            for p in self.people:
                if rng.random() < self.respond_probability(p.id):
                    ties.extend((p.id, t) for t in self.sample_named(p.id, rng, k_max))
        return ties

    def roster_csv(self, path: str | Path) -> Path:
        """Write the HR roster: ``slack_id,email,team,manager,title`` (manager as Slack id)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv_writer(handle)
            writer.writerow(["slack_id", "email", "team", "manager", "title"])
            for p in self.people:
                writer.writerow([p.id, p.email, p.team, p.manager or "", p.title])
        return target

    def people_csv(self, path: str | Path) -> Path:
        """Write ``people.csv`` in PeerPulse's format (id,name,team,manager,title,location)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv_writer(handle)
            writer.writerow(["id", "name", "team", "manager", "title", "location"])
            for p in self.people:
                writer.writerow([p.id, p.real_name, p.team, p.manager or "", p.title, p.location])
        return target


def _k_weights(k_max: int) -> list[float]:
    weights = list(K_WEIGHTS[:k_max])
    weights += [K_WEIGHTS[-1]] * (k_max - len(weights))
    return weights


def _unique_ids(rng: random.Random, count: int) -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < count:
        candidate = "U0" + base36(rng.getrandbits(46)).rjust(9, "0")
        if candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)
    return ids


def _names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    pairs = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(pairs)
    return [pairs[i % len(pairs)] for i in range(count)]


def _user(person: Person, tz: tuple[str, str, int, str], deleted: bool = False) -> dict[str, Any]:
    first, _, last = person.real_name.partition(" ")
    return {
        "id": person.id,
        "team_id": TEAM_ID,
        "name": person.name,
        "real_name": person.real_name,
        "deleted": deleted,
        "is_bot": False,
        "is_app_user": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "tz": tz[0],
        "tz_label": tz[1],
        "tz_offset": tz[2],
        "profile": {
            "email": person.email,
            "display_name": first,
            "real_name": person.real_name,
            "first_name": first,
            "last_name": last,
            "title": person.title,
        },
    }


def _split_sizes(rng: random.Random, total: int, parts: int) -> list[int]:
    weights = [rng.uniform(0.6, 1.4) for _ in range(parts)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    i = 0
    while sum(sizes) < total:
        sizes[i % parts] += 1
        i += 1
    while sum(sizes) > total:
        biggest = max(range(parts), key=lambda j: sizes[j])
        sizes[biggest] -= 1
    return sizes


def simulate_organisation(
    n_people: int = 150,
    n_teams: int = 8,
    seed: int = 0,
    *,
    n_communities: int | None = None,
) -> Organisation:
    """Build a deterministic organisation of ``n_people`` humans in ``n_teams`` teams.

    Besides the people, ``users`` holds Slackbot, a few bot users and one deactivated
    person, as ``users.list`` would. Communities default to about one per 22 people.
    """
    if n_people < 1 or n_teams < 1:
        raise ValueError("an organisation needs at least one person and one team")
    n_teams = min(n_teams, n_people)
    rng = random.Random(seed)
    n_comm = n_communities or max(2, min(len(COMMUNITIES), round(n_people / 22)))
    community_names = [
        COMMUNITIES[i] if i < len(COMMUNITIES) else f"Community {i + 1}" for i in range(n_comm)
    ]

    ids = _unique_ids(rng, n_people + 1 + len(BOTS))
    human_ids, deleted_id, bot_ids = ids[:n_people], ids[n_people], ids[n_people + 1 :]
    names = _names(rng, n_people + 1)
    team_names = [TEAMS[i][0] if i < len(TEAMS) else f"Team {i + 1}" for i in range(n_teams)]
    sizes = _split_sizes(rng, n_people, n_teams)
    team_location = [LOCATIONS[i % len(LOCATIONS)] for i in range(n_teams)]

    people: list[Person] = []
    teams: dict[str, list[str]] = {}
    managers: dict[str, str] = {}
    tzs: dict[str, tuple[str, str, int, str]] = {}
    used_handles: set[str] = set()
    start = 0
    ceo = human_ids[0]

    def handle_and_email(first: str, last: str) -> tuple[str, str]:
        base = f"{first}.{last}".lower()
        handle, n = base, 1
        while handle in used_handles:
            n += 1
            handle = f"{base}{n}"
        used_handles.add(handle)
        return handle, f"{handle}@{EMAIL_DOMAIN}"

    for t, (team, size) in enumerate(zip(team_names, sizes, strict=True)):
        titles = TEAMS[t][1] if t < len(TEAMS) else ("Specialist", "Senior Specialist", "Lead")
        members = human_ids[start : start + size]
        teams[team] = list(members)
        managers[team] = members[0]
        for i, pid in enumerate(members):
            first, last = names[start + i]
            handle, email_address = handle_and_email(first, last)
            if pid == ceo:
                title, manager = "Chief Executive Officer", None
            elif i == 0:
                title, manager = titles[2], ceo
            else:
                title = titles[1] if rng.random() < 0.3 else titles[0]
                manager = members[0]
            loc = team_location[t] if rng.random() < 0.85 else rng.choice(LOCATIONS)
            tzs[pid] = loc
            people.append(
                Person(
                    pid,
                    handle,
                    f"{first} {last}",
                    email_address,
                    team,
                    manager,
                    title,
                    loc[0],
                    loc[3],
                )
            )
        start += size

    # Hidden structure: a community per person, partly following their team.
    home = {team: t % n_comm for t, team in enumerate(team_names)}
    community_of: dict[str, int] = {}
    for p in people:
        community_of[p.id] = home[p.team] if rng.random() < 0.35 else rng.randrange(n_comm)

    ordinary = [p.id for p in people if p.id not in managers.values()]
    pick = max(3, round(n_people * 0.03)) if n_people >= 30 else max(1, n_people // 10)
    n_isolated = max(2, round(n_people * 0.06)) if n_people >= 30 else max(1, n_people // 10)
    pool = list(ordinary if len(ordinary) >= 2 * pick + n_isolated else human_ids)
    rng.shuffle(pool)
    brokers = sorted(pool[:pick])
    hyper_connected = sorted(pool[pick : 2 * pick])
    isolated = sorted(pool[2 * pick : 2 * pick + n_isolated])
    secondary: dict[str, list[int]] = {}
    for b in brokers:
        others = [c for c in range(n_comm) if c != community_of[b]]
        secondary[b] = sorted(rng.sample(others, min(len(others), rng.choice((2, 2, 3)))))

    popularity: dict[str, float] = {}
    respond: dict[str, float] = {}
    for p in people:
        weight = rng.lognormvariate(0, 0.5)
        answer = rng.uniform(0.5, 0.8)
        if p.id in hyper_connected:
            weight *= 6
            answer = 0.9
        elif p.id in brokers:
            weight *= 2
            answer = max(answer, 0.7)
        elif p.id in isolated:
            weight *= 0.02
            answer = 0.15
        elif p.id in managers.values():
            answer = 0.55
        popularity[p.id] = weight
        respond[p.id] = round(answer, 3)

    users = [_user(p, tzs[p.id]) for p in people]
    first, last = names[n_people]
    handle, email_address = handle_and_email(first, last)
    leaver = Person(
        deleted_id,
        handle,
        f"{first} {last}",
        email_address,
        team_names[-1],
        managers[team_names[-1]],
        "Former Employee",
        LOCATIONS[0][0],
        LOCATIONS[0][3],
    )
    users.append(_user(leaver, LOCATIONS[0], deleted=True))
    for bot_id, (handle, real_name) in zip(bot_ids, BOTS, strict=True):
        users.append(
            {
                "id": bot_id,
                "team_id": TEAM_ID,
                "name": handle,
                "real_name": real_name,
                "deleted": False,
                "is_bot": True,
                "is_app_user": False,
                "tz": "America/Los_Angeles",
                "profile": {
                    "real_name": real_name,
                    "display_name": "",
                    "bot_id": "B" + bot_id[1:],
                    "email": "",
                    "title": "",
                },
            }
        )
    users.append(dict(SLACKBOT))

    usergroups = {f"S{managers[team][1:]}": list(members) for team, members in teams.items()}
    return Organisation(
        seed=seed,
        people=people,
        users=users,
        teams=teams,
        managers=managers,
        community_names=community_names,
        community_of=community_of,
        secondary_communities=secondary,
        brokers=brokers,
        hyper_connected=hyper_connected,
        isolated=isolated,
        bots=list(bot_ids),
        deleted=[deleted_id],
        usergroups=usergroups,
        popularity=popularity,
        _respond=respond,
    )


# ---------------------------------------------------------------------- champions

@dataclass(frozen=True)
class KnownNetwork:
    """A small organisation whose right champion suggestions are known in advance.

    Five teams of five. Three champions (Alpha, Beta, Delta), one per timezone given.
    ``helper`` (in Alpha) is named for help by four colleagues, nobody has recognised them,
    and only the Alpha champion has them within two steps: "thank them". Gamma and Epsilon
    have ties only among themselves, so no champion reaches them: "introduce yourself" to
    their best-connected members. ``newcomer`` joins Beta later with no ties: "say hello"
    (for the Beta champion). ``recognised`` is a helper who has had a kudos (never a
    "thank"), and ``leaver`` a helper who opts out (never named anywhere).
    """

    users: list[dict[str, Any]]
    teams: dict[str, str]
    ties: list[tuple[str, str, str, int]]  # source, target, kind, days ago
    champions: dict[str, str]  # team -> champion
    helper: str
    recognised: str
    leaver: str
    newcomer: dict[str, Any]
    unreached: dict[str, str]  # team -> its best-connected member
    expected: list[tuple[str, str, str]]  # (kind, champion, subject)

    def roster_rows(self, with_newcomer: bool = True) -> list[dict[str, str]]:
        """``slack_id,team,champion`` rows for `peerpulse roster import`."""
        champions = set(self.champions.values())
        rows = [{"slack_id": uid, "team": team, "champion": str(uid in champions).lower()}
                for uid, team in self.teams.items()]
        if with_newcomer:
            rows.append({"slack_id": self.newcomer["id"], "team": "Beta", "champion": "false"})
        return rows


def known_network(timezones: tuple[str, str, str] = (
        "Europe/London", "America/New_York", "Asia/Singapore")) -> KnownNetwork:
    """The organisation of :class:`KnownNetwork`; champions live in ``timezones``."""
    teams: dict[str, str] = {}
    users: list[dict[str, Any]] = []
    tz_of = {"Alpha": timezones[0], "Beta": timezones[1], "Delta": timezones[2]}
    names = iter(_names(random.Random(42), 40))
    members: dict[str, list[str]] = {}
    for team in ("Alpha", "Beta", "Gamma", "Delta", "Epsilon"):
        ids = [f"U{team[:3].upper()}{i}" for i in range(1, 6)]
        if team in tz_of:
            ids[0] = f"UCHAMP{team[0]}"
        members[team] = ids
        for uid in ids:
            teams[uid] = team
            first, last = next(names)
            person = Person(uid, f"{first}.{last}".lower(), f"{first} {last}",
                            f"{first}.{last}@{EMAIL_DOMAIN}".lower(), team, None, "Specialist",
                            tz_of.get(team, "Europe/Berlin"), "")
            users.append(_user(person, (person.tz, person.tz, 0, "")))
    alpha, beta, gamma, delta, eps = (members[t] for t in
                                      ("Alpha", "Beta", "Gamma", "Delta", "Epsilon"))
    champions = {"Alpha": alpha[0], "Beta": beta[0], "Delta": delta[0]}
    ties: list[tuple[str, str, str, int]] = []

    def tie(a: str, b: str, kind: str = "helped", ago: int = 20) -> None:
        ties.append((a, b, kind, ago))

    # Alpha: the champion named two colleagues; four colleagues name the helper for help.
    helper = alpha[4]
    tie(alpha[0], alpha[1], ago=40)
    tie(alpha[0], alpha[2], "advice", ago=3)
    for a in alpha[1:4]:
        tie(a, helper, ago=15)
    tie(beta[3], helper, ago=5)
    # Beta: the champion and their team; a recognised helper.
    recognised = beta[4]
    tie(beta[0], beta[1], ago=10)
    tie(beta[0], beta[2], ago=25)
    for b in beta[1:4]:
        tie(b, recognised, ago=12)
    tie(alpha[1], recognised, ago=4)
    tie(beta[1], recognised, "recognised", ago=2)
    # Delta: the champion's team; a helper who will opt out.
    leaver = delta[4]
    tie(delta[0], delta[1], ago=8)
    tie(delta[0], delta[2], ago=33)
    for d in delta[1:4]:
        tie(d, leaver, ago=6)
    tie(delta[0], leaver, "advice", ago=1)
    # Gamma and Epsilon: ties only among themselves; their first member is best connected.
    for group in (gamma, eps):
        for other in group[1:]:
            tie(other, group[0], ago=9)
        tie(group[1], group[2], ago=14)
    first, last = next(names)
    newcomer = _user(Person("UNEWHIRE", f"{first}.{last}".lower(), f"{first} {last}",
                            f"{first}.{last}@{EMAIL_DOMAIN}".lower(), "Beta", None, "Specialist",
                            timezones[1], ""), (timezones[1], timezones[1], 0, ""))
    # (kind, champion, subject), by the rules of analytics.suggestions: the newcomer goes to
    # the champion of their team; unreached teams to the least loaded champions in turn.
    expected = [("say_hello", champions["Beta"], newcomer["id"]),
                ("introduce_yourself", champions["Alpha"], eps[0]),
                ("introduce_yourself", champions["Delta"], gamma[0]),
                ("thank", champions["Alpha"], helper)]
    return KnownNetwork(users, teams, ties, champions, helper, recognised, leaver, newcomer,
                        {"Gamma": gamma[0], "Epsilon": eps[0]}, expected)


@dataclass(frozen=True)
class ChampionBehaviour:
    """How simulated champions respond to suggestions, with a known true effect.

    A tie between a champion and the person suggested appears within 30 days with
    probability ``baseline`` whether or not the suggestion was shown (people meet anyway);
    a champion who is shown it also acts on it with probability ``act``. So the true
    follow-through is ``baseline`` for withheld suggestions and
    ``baseline + (1 - baseline) * act`` for shown ones.
    """

    act: float = 0.5
    baseline: float = 0.1
    dismiss: float = 0.2  # share of shown suggestions answered "Not useful"

    @property
    def shown_rate(self) -> float:
        return self.baseline + (1 - self.baseline) * self.act

    def outcome(self, shown: bool, rng: random.Random) -> tuple[bool, int | None]:
        """(the champion acted on it, days until a tie appears or None)."""
        acted = shown and rng.random() < self.act
        if acted or rng.random() < self.baseline:
            return acted, rng.randint(1, 25)
        return acted, None
