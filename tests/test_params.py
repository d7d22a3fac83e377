"""Parameter validation: bad values raise ValueError naming the parameter, before any compute."""
import pytest

from ntkrepro import CLAIMS, resolve_params
from ntkrepro.params import PROFILES, int_list, integer, real


@pytest.mark.parametrize("claim_id", list(CLAIMS))
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_resolves(claim_id, profile):
    P = resolve_params(claim_id, profile=profile)
    assert P.profile == profile
    assert set(P) == set(CLAIMS[claim_id].params.names)


def test_explicit_value_overrides_profile():
    P = resolve_params("finite_vs_infinite", {"profile": "smoke", "steps": 7, "widths": None})
    assert P.steps == 7
    assert P.widths == CLAIMS["finite_vs_infinite"].params.profiles["smoke"]["widths"]


@pytest.mark.parametrize("name,value", [
    ("widths", [-4, 64]), ("widths", []), ("n_seeds", 0), ("dataset", "cifar10"),
    ("lr_factor", 1.5), ("steps", 2.5), ("profile", "huge"), ("W_std", float("nan")),
    ("run_zca", "yes"),
])
def test_bad_value_names_parameter(name, value):
    with pytest.raises(ValueError, match=f"'{name}'"):
        resolve_params("finite_vs_infinite", **{name: value})


def test_unknown_parameter_is_an_error():
    with pytest.raises(ValueError, match="unknown parameter"):
        CLAIMS["finite_vs_infinite"].params.resolve({"widthz": [1]}, lambda p: "x")


def test_cross_parameter_rule_names_parameter():
    with pytest.raises(ValueError, match="'n_train'.*1797"):
        resolve_params("finite_vs_infinite", n_train=1500, n_test=797)
    with pytest.raises(ValueError, match="'widths'"):
        resolve_params("finite_vs_infinite", widths=[512, 64])


def test_param_kinds_describe_allowed_range():
    assert "[1, 10]" in integer("a", 1, 10, "").allowed()
    assert "list of integers" in int_list("b", 1, None, "").allowed()
    with pytest.raises(ValueError, match=r"'c'.*\[0.0, 1.0\]"):
        real("c", 0.0, 1.0, "").validate(2.0)
    assert integer("a", 1, 10, "").validate(3.0) == 3
