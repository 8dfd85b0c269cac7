"""What every benchmark resident commits and grants, and what departments query."""

from __future__ import annotations

RECORD_VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "138"}
GRANT_FIELDS = ("address", "income", "name")
QUERY_FIELDS = ("income", "name")
PURPOSE = "HOUSING"
DAY = 86_400
