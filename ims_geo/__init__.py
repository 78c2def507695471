"""ims_geo: integral programming of the public space.

Every organisation's planned street works on one map; conflicts between
their plans found; combined programmes proposed ("dig once, pave once").
"""

from ims_geo.errors import (
    HostileInputError,
    ImsGeoError,
    InputError,
    MissingCRSError,
    RulesError,
    ScheduleError,
    StoreError,
)
from ims_geo.schema import validate

__version__ = "0.1.0"

__all__ = [
    "HostileInputError",
    "ImsGeoError",
    "InputError",
    "MissingCRSError",
    "RulesError",
    "ScheduleError",
    "StoreError",
    "validate",
]
