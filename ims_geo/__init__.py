"""ims_geo: integral programming of the public space.

Every organisation's planned street works on one map; conflicts between
their plans found; combined programmes proposed ("dig once, pave once").
"""

from typing import TYPE_CHECKING, Any

from ims_geo.errors import (
    HostileInputError,
    ImsGeoError,
    InputError,
    MissingCRSError,
    RulesError,
    ScheduleError,
    StoreError,
)

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    """``validate`` imported when first asked for: ``import ims_geo`` stays light, so the
    ``ims-geo`` command can set up its process (:mod:`ims_geo.launch`) before pandas loads.
    """
    if name == "validate":
        from ims_geo.schema import validate

        return validate
    raise AttributeError(f"module 'ims_geo' has no attribute {name!r}")
