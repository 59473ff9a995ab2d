"""The adapter registry and the price list: no provider SDK imported by qsre, one
adapter per provider, prices as data with their sources."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from collector.cost import PricingError
from collector.providers import GENERIC, adapter_for, adapters
from collector.providers.pricing import _parse, list_price, price_list


def test_loading_every_adapter_imports_no_provider_sdk():
    code = (
        "import sys, collector, collector.providers as p\n"
        "p.adapters(); p.adapter_for(object())\n"
        "sdks = ('qiskit_ibm_runtime', 'braket', 'qiskit_braket_provider', 'qiskit_ionq', 'botocore')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in sdks))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_each_provider_has_one_adapter():
    names = [a.name for a in adapters()]
    assert sorted(names) == ["aer", "braket", "ibm", "ionq"]
    modules = [m for a in adapters() for m in a.modules]
    assert len(modules) == len(set(modules))
    assert adapter_for(ValueError("x")) is GENERIC


def test_price_list_rules_name_their_source():
    rules = [rule for provider_rules in price_list().values() for rule in provider_rules]
    assert rules
    assert all(rule.source.startswith("https://") for rule in rules)
    assert all(not rule.pricing.free for rule in rules)


@pytest.mark.parametrize(
    ("identity", "per_shot", "per_second"),
    [
        ("arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", 0.08, 0.0),
        ("arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet", 0.00145, 0.0),
        ("arn:aws:braket:::device/quantum-simulator/amazon/sv1", 0.0, 0.075 / 60),
    ],
)
def test_braket_prices_by_device_arn(identity, per_shot, per_second):
    rule = list_price("braket", None, identity)
    assert rule is not None
    assert rule.pricing.per_shot_usd == pytest.approx(per_shot)
    assert rule.pricing.per_second_usd == pytest.approx(per_second)
    if per_shot:
        assert rule.pricing.per_circuit_usd == pytest.approx(0.30)  # per task


def test_unknown_device_has_no_default_price():
    assert list_price("braket", "arn:aws:braket:::device/qpu/acme/Prototype") is None
    assert list_price("ionq", "ionq_qpu.aria-1") is None


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"ibm": [{"match": "(", "source": "https://x", "pricing": {}}]}, "ibm[0].match"),
        ({"ibm": [{"match": ".", "source": "https://x", "pricing": {"per_sec": 1}}]}, "ibm[0]"),
        ({"ibm": [{"match": ".", "pricing": {}}]}, "ibm[0]"),
        ({"ibm": {"match": "."}}, "ibm"),
    ],
)
def test_malformed_price_list_names_the_entry(document, where):
    with pytest.raises(PricingError, match=re.escape(f"prices.yaml: {where}")):
        _parse(document, "prices.yaml")
