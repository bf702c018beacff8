"""The demo bank: realistic questions of every type over several categories."""

from __future__ import annotations

from typing import Any


def _sc(
    cat: str, diff: str, prompt: str, choices: list[str], right: int, *tags: str
) -> dict[str, Any]:
    body = {"type": "single_choice", "prompt": prompt, "choices": choices, "correct": right}
    return {"category": cat, "difficulty": diff, "points": 1, "tags": list(tags), "body": body}


def _mc(
    cat: str, diff: str, prompt: str, choices: list[str], right: list[int], rule: str
) -> dict[str, Any]:
    body = {
        "type": "multiple_choice",
        "prompt": prompt,
        "choices": choices,
        "correct": right,
        "scoring": rule,
    }
    return {"category": cat, "difficulty": diff, "points": 2, "tags": [], "body": body}


def _tf(cat: str, diff: str, prompt: str, right: bool) -> dict[str, Any]:
    body = {"type": "true_false", "prompt": prompt, "correct": right}
    return {"category": cat, "difficulty": diff, "points": 1, "tags": [], "body": body}


SEC, NET, PY, DB, TEAM = "Security", "Networking", "Python", "Databases", "Teamwork"

QUESTIONS: list[dict[str, Any]] = [
    _sc(
        SEC,
        "easy",
        "Which of these is the strongest password?",
        ["password123", "Summer2024!", "correct-horse-battery-staple-42", "qwerty"],
        2,
        "passwords",
    ),
    _sc(
        SEC,
        "medium",
        "What does a CSRF token protect against?",
        ["Cross-site request forgery", "SQL injection", "Brute-force sign-in", "Clickjacking"],
        0,
        "web",
    ),
    _sc(
        SEC,
        "hard",
        "Which mode of AES provides authenticated encryption?",
        ["ECB", "CBC", "GCM", "CTR"],
        2,
        "crypto",
    ),
    _mc(
        SEC,
        "medium",
        "Which of these are valid second factors?",
        ["A TOTP app", "A hardware security key", "The user's birthday", "A second password"],
        [0, 1],
        "proportional",
    ),
    _tf(SEC, "easy", "Hashing a password with SHA-256 alone is enough to store it safely.", False),
    _sc(
        NET, "easy", "Which port does HTTPS use by default?", ["21", "80", "443", "8080"], 2, "http"
    ),
    _sc(
        NET,
        "medium",
        "Which protocol resolves host names to IP addresses?",
        ["DHCP", "DNS", "ARP", "SMTP"],
        1,
        "dns",
    ),
    _mc(
        NET,
        "hard",
        "Which of these are private IPv4 ranges?",
        ["10.0.0.0/8", "172.16.0.0/12", "8.8.8.0/24", "192.168.0.0/16"],
        [0, 1, 3],
        "all_or_nothing",
    ),
    _tf(NET, "medium", "UDP guarantees that packets arrive in order.", False),
    {
        "category": NET,
        "difficulty": "medium",
        "points": 2,
        "tags": ["subnets"],
        "body": {
            "type": "numeric",
            "prompt": "How many usable host addresses does a /24 IPv4 subnet have?",
            "value": 254,
            "tolerance": 0,
        },
    },
    _sc(PY, "easy", "What does len([1, 2, 3]) return?", ["2", "3", "4", "an error"], 1, "basics"),
    _sc(
        PY,
        "medium",
        "Which keyword makes a function a generator?",
        ["return", "yield", "async", "lambda"],
        1,
        "generators",
    ),
    _mc(
        PY,
        "medium",
        "Which of these types are immutable?",
        ["tuple", "list", "frozenset", "dict", "str"],
        [0, 2, 4],
        "proportional",
    ),
    _tf(PY, "easy", "In Python, indentation is part of the syntax.", True),
    {
        "category": PY,
        "difficulty": "medium",
        "points": 1,
        "tags": ["basics"],
        "body": {
            "type": "numeric",
            "prompt": "What is 7 // 2 in Python?",
            "value": 3,
            "tolerance": 0,
        },
    },
    {
        "category": PY,
        "difficulty": "easy",
        "points": 1,
        "tags": ["basics"],
        "body": {
            "type": "short_text",
            "prompt": "Which built-in function prints text to the console?",
            "accepted": ["print", "print()"],
            "case_sensitive": True,
        },
    },
    {
        "category": PY,
        "difficulty": "hard",
        "points": 3,
        "tags": ["history"],
        "body": {
            "type": "ordering",
            "prompt": "Order these Python releases, oldest first.",
            "items": ["Python 2.0", "Python 3.0", "Python 3.6", "Python 3.11"],
        },
    },
    _sc(
        DB,
        "easy",
        "Which SQL statement reads rows?",
        ["INSERT", "SELECT", "UPDATE", "DELETE"],
        1,
        "sql",
    ),
    _sc(
        DB,
        "medium",
        "Which isolation level prevents non-repeatable reads but allows phantoms (SQL standard)?",
        ["Read uncommitted", "Read committed", "Repeatable read", "Serializable"],
        2,
        "transactions",
    ),
    _mc(
        DB,
        "hard",
        "Which of these are properties of ACID?",
        ["Atomicity", "Availability", "Isolation", "Durability", "Partition tolerance"],
        [0, 2, 3],
        "proportional",
    ),
    _tf(DB, "medium", "A primary key column may contain NULL.", False),
    {
        "category": DB,
        "difficulty": "medium",
        "points": 2,
        "tags": ["sql"],
        "body": {
            "type": "short_text",
            "prompt": "Which SQL clause filters groups after aggregation?",
            "accepted": ["HAVING"],
            "case_sensitive": False,
        },
    },
    {
        "category": DB,
        "difficulty": "hard",
        "points": 3,
        "tags": ["sql"],
        "body": {
            "type": "matching",
            "prompt": "Match each join to what it returns.",
            "pairs": [
                {"left": "INNER JOIN", "right": "Only matching rows"},
                {"left": "LEFT JOIN", "right": "All left rows, matched right rows"},
                {"left": "CROSS JOIN", "right": "Every combination of rows"},
            ],
        },
    },
    {
        "category": DB,
        "difficulty": "easy",
        "points": 1,
        "tags": ["indexes"],
        "body": {
            "type": "numeric",
            "prompt": "A B-tree of 1,000,000 rows with fan-out 100 has about how many levels?",
            "value": 3,
            "tolerance": 0.5,
        },
    },
    _sc(
        TEAM,
        "easy",
        "A teammate's change breaks the build before a release. What do you do first?",
        [
            "Revert or fix it and tell them",
            "Wait for them to notice",
            "Release anyway",
            "Escalate to management",
        ],
        0,
        "collaboration",
    ),
    _tf(TEAM, "easy", "Code review is mainly about finding someone to blame.", False),
    {
        "category": TEAM,
        "difficulty": "medium",
        "points": 2,
        "tags": ["process"],
        "body": {
            "type": "ordering",
            "prompt": "Order the steps of handling an incident.",
            "items": ["Detect", "Mitigate", "Resolve", "Write the post-mortem"],
        },
    },
    {
        "category": TEAM,
        "difficulty": "medium",
        "points": 3,
        "tags": ["roles"],
        "body": {
            "type": "matching",
            "prompt": "Match each Scrum role to its responsibility.",
            "pairs": [
                {"left": "Product owner", "right": "Orders the backlog"},
                {"left": "Scrum master", "right": "Removes impediments"},
                {"left": "Developers", "right": "Build the increment"},
            ],
        },
    },
    {
        "category": TEAM,
        "difficulty": "hard",
        "points": 10,
        "tags": ["writing"],
        "body": {
            "type": "essay",
            "prompt": "Describe a disagreement in a team you were part of and how it was resolved.",
            "max_words": 400,
            "rubric": [
                {
                    "name": "Situation",
                    "levels": [{"label": "Unclear", "points": 0}, {"label": "Clear", "points": 3}],
                },
                {
                    "name": "Own contribution",
                    "levels": [
                        {"label": "Missing", "points": 0},
                        {"label": "Partial", "points": 2},
                        {"label": "Convincing", "points": 4},
                    ],
                },
                {
                    "name": "Reflection",
                    "levels": [
                        {"label": "None", "points": 0},
                        {"label": "Thoughtful", "points": 3},
                    ],
                },
            ],
        },
    },
    {
        "category": SEC,
        "difficulty": "hard",
        "points": 6,
        "tags": ["writing"],
        "body": {
            "type": "essay",
            "prompt": "How would you store user passwords for a new web application, and why?",
            "max_words": 300,
            "rubric": [
                {
                    "name": "Correct technique",
                    "levels": [{"label": "Unsafe", "points": 0}, {"label": "Safe", "points": 4}],
                },
                {
                    "name": "Reasoning",
                    "levels": [{"label": "Missing", "points": 0}, {"label": "Sound", "points": 2}],
                },
            ],
        },
    },
    {
        "category": SEC,
        "difficulty": "medium",
        "points": 2,
        "tags": ["crypto"],
        "body": {
            "type": "short_text",
            "prompt": "What does the acronym TLS stand for?",
            "accepted": ["Transport Layer Security"],
            "case_sensitive": False,
        },
    },
    {
        "category": NET,
        "difficulty": "hard",
        "points": 3,
        "tags": ["osi"],
        "body": {
            "type": "matching",
            "prompt": "Match each protocol to its OSI layer.",
            "pairs": [
                {"left": "IP", "right": "Network"},
                {"left": "TCP", "right": "Transport"},
                {"left": "HTTP", "right": "Application"},
            ],
        },
    },
]

# German words for a few demo questions (the demo tenants read English only
# until German is enabled for them; published exams then carry these).
GERMAN: dict[str, dict[str, Any]] = {
    "Which SQL statement reads rows?": {
        "prompt": "Welche SQL-Anweisung liest Zeilen?",
        "choices": ["INSERT", "SELECT", "UPDATE", "DELETE"],
    },
    "A primary key column may contain NULL.": {
        "prompt": "Eine Primärschlüsselspalte darf NULL enthalten.",
    },
    "In Python, indentation is part of the syntax.": {
        "prompt": "In Python ist die Einrückung Teil der Syntax.",
    },
    "Which SQL clause filters groups after aggregation?": {
        "prompt": "Welche SQL-Klausel filtert Gruppen nach der Aggregation?",
    },
}
