"""The payload property (tests/test_payload_property.py) on Spark: Spark's column types, with
fewer generated examples than elsewhere (each is three full runs), and every type's edge
values at once."""

from __future__ import annotations

import pytest

from tests.test_payload_property import (  # noqa: F401
    payload_property,
    test_every_type_and_edge_value_at_once,
)

EACH_WAREHOUSE = ["spark"]  # a Spark test: the whole set under CI=true (see tests/conftest.py)
pytestmark = pytest.mark.each_warehouse

test_every_payload_is_strict_json_with_the_models_values = payload_property(2)
