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


# ----- file and -p errors: one line, exit status 2, naming the file or parameter and the position ------

def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_missing_params_file_is_one_line(tmp_path, capsys):
    from ntkrepro import cli

    path = tmp_path / "nope.yaml"
    assert cli.main(["run", "etf", "--params-file", str(path)]) == 2
    assert _one_error_line(capsys) == f"error: params file {path}: no such file"


def test_unreadable_params_file_is_one_line(tmp_path, capsys):
    from ntkrepro import cli

    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"seed: \xff\xfe\n")  # not UTF-8 (a directory or a chmod 000 file reads the same way)
    assert cli.main(["run", "etf", "--params-file", str(bad)]) == 2
    assert _one_error_line(capsys).startswith(f"error: params file {bad}: cannot be read (")
    assert cli.main(["run", "etf", "--params-file", str(tmp_path)]) == 2
    assert _one_error_line(capsys).startswith(f"error: params file {tmp_path}: cannot be read (")


def test_invalid_yaml_params_file_names_file_and_position(tmp_path, capsys):
    from ntkrepro import cli

    path = tmp_path / "p.yaml"
    path.write_text("seed: 1\nwidths: [64, 256\nn_train: 3\n")
    assert cli.main(["run", "etf", "--params-file", str(path)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: params file {path}: not valid YAML (line 3, column 8: ")


def test_params_file_that_is_not_a_mapping_is_one_line(tmp_path, capsys):
    from ntkrepro import cli

    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    assert cli.main(["run", "etf", "--params-file", str(path)]) == 2
    assert "expected a mapping of parameter names to values, got list" in _one_error_line(capsys)


@pytest.mark.parametrize("value, position", [("[64, 256", "line 1, column 9"), ("a: b: c", "line 1, column 5")])
def test_invalid_yaml_p_value_names_parameter_and_position(value, position, capsys):
    from ntkrepro import cli

    assert cli.main(["run", "etf", "-p", "widths", value]) == 2
    assert _one_error_line(capsys).startswith(f"error: -p widths {value!r} is not valid YAML ({position}: ")
    assert cli.main(["sweep", "etf", "-p", "widths", value]) == 2
    assert f"-p widths {value!r} is not valid YAML ({position}: " in _one_error_line(capsys)


def test_file_errors_answer_before_jax_is_imported(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "p.yaml"
    path.write_text("seed: [1\n")
    code = ("import sys; from ntkrepro import cli; "
            f"assert cli.main(['run', 'all', '--params-file', {str(path)!r}]) == 2; "
            f"assert cli.main(['run', 'all', '--params-file', {str(tmp_path / 'missing.yaml')!r}]) == 2; "
            "assert 'jax' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
    assert [line.split(":")[0] for line in out.stderr.strip().splitlines()] == ["error", "error"]


def test_check_reads_a_resolved_set_without_applying_the_profile():
    """The kernel side of a runner run (:meth:`ParamSet.check`): the resolved values come back as they
    are (a value the profile would not give stays), a missing, unknown or ill-typed one is refused."""
    claim = CLAIMS["finite_vs_infinite"]
    resolved = resolve_params("finite_vs_infinite", profile="smoke", steps=7)
    assert claim.params.check(dict(resolved)) == resolved and resolved["steps"] == 7
    with pytest.raises(ValueError, match="missing \\['steps'\\]"):
        claim.params.check({k: v for k, v in resolved.items() if k != "steps"})
    with pytest.raises(ValueError, match="unknown \\['stepz'\\]"):
        claim.params.check({**resolved, "stepz": 1})
    with pytest.raises(ValueError, match="'steps'"):
        claim.params.check({**resolved, "steps": "seven"})
